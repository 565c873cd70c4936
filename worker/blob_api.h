// Downloads by content address first: a CoordinatorApi that fetches models,
// deltas and shards from an HTTP server by digest (the coordinator's
// GET /blobs/<sha256>, or a cache in front of it: deploy/nginx/) and falls
// back to the coordinator's gRPC streams.
//
// The digest and size always come over the authenticated gRPC API (the
// task, or a digest-only FetchModel / FetchModelDelta), never from the
// HTTP server, and every byte fetched is checked against both: a cache
// that answers garbage, or a stale or corrupted entry, costs a fallback,
// never a wrong model. Any failure (no connection, not 200, a short or long
// body, a digest mismatch, a timeout) is logged in one line (which blob,
// which URL, why), counted, and the same payload is then fetched over gRPC
// as without a blob source. Every other call passes through.
//
// Thread-safe if `api` and `source` are.
#ifndef TRIBUTARY_WORKER_BLOB_API_H_
#define TRIBUTARY_WORKER_BLOB_API_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "worker/coordinator_api.h"

namespace tributary::worker {

// A payload received by digest, and the SHA-256 of what was received
// (hashed as it arrived).
struct BlobBody {
  std::string bytes;
  Sha256Digest sha256{};
};

// Where blobs come from by digest (http_blob_source.h; a fake in tests).
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The blob named `ref`: at most ref.bytes bytes (more is an error), not
  // otherwise checked. Errors say why. Thread-safe.
  virtual absl::StatusOr<BlobBody> Get(const BlobRef& ref) = 0;
  // Where Get asks for `ref` (for log lines).
  virtual std::string Url(const BlobRef& ref) const = 0;
};

struct BlobFetchStats {
  int64_t ok = 0;
  int64_t failed = 0;            // Every fallback to gRPC, mismatches included.
  int64_t digest_mismatches = 0;
  int64_t bytes = 0;             // Received in verified blobs.

  // "12 ok (3276800 bytes), 2 failed (1 digest mismatches)": one format,
  // which tests/e2e/blob_cache_test.cc reads.
  std::string Line() const;
};

class BlobFirstApi : public CoordinatorApi {
 public:
  // Both borrowed; they must outlive this.
  BlobFirstApi(CoordinatorApi& api, BlobSource& source) : api_(api), source_(source) {}

  BlobFetchStats stats() const;

  absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string& sha256, uint64_t bytes) override;
  absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from_version, uint64_t max_bytes) override;
  absl::StatusOr<std::string> FetchShard(uint64_t shard_id, const std::string& sha256, uint64_t bytes) override;

  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest& request) override {
    return api_.Join(request);
  }
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t current_task,
                                                            absl::Span<const uint64_t> held) override {
    return api_.Heartbeat(current_task, held);
  }
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t> keep) override {
    return api_.GetTask(keep);
  }
  absl::StatusOr<BlobRef> DescribeModel(uint64_t version) override { return api_.DescribeModel(version); }
  absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t version, uint64_t from_version) override {
    return api_.DescribeModelDelta(version, from_version);
  }
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(const tributary::v1::UpdateHeader& header,
                                                                   const std::string& payload,
                                                                   absl::Duration* upload,
                                                                   const UploadProgress& progress) override {
    return api_.SubmitUpdate(header, payload, upload, progress);
  }
  absl::Status Leave() override { return api_.Leave(); }
  bool WaitForConnection(absl::Duration timeout) override { return api_.WaitForConnection(timeout); }

 private:
  // The verified blob `ref`, or nullopt after logging and counting why not.
  std::optional<std::string> TryGet(absl::string_view what, const BlobRef& ref);

  CoordinatorApi& api_;
  BlobSource& source_;
  mutable absl::Mutex mu_;
  BlobFetchStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_BLOB_API_H_
