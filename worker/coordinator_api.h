// What the worker loop needs from a coordinator: one method per RPC of
// tributary.v1.Coordinator, each answering with an absl::Status. The real
// implementation is CoordinatorClient (worker/client.h: gRPC, deadlines,
// verified downloads); tests/worker/worker_simulation_test.cc has an
// in-memory one that injects faults, as LevelDB's Env has a real and a
// fake implementation.
//
// Contract for implementations:
// - Thread-safe: the worker's heartbeat thread, its lookahead and its
//   overlapped round call in beside the loop.
// - Join starts a new session that every later call carries; a call whose
//   session the coordinator no longer knows (it restarted) answers
//   UNAUTHENTICATED.
// - An unreachable coordinator answers UNAVAILABLE or DEADLINE_EXCEEDED;
//   one over a limit answers RESOURCE_EXHAUSTED, with a retry hint
//   (RetryHint below) where waiting helps.
// - Downloads return exactly the bytes the coordinator announced, verified
//   (DATA_LOSS otherwise); NOT_FOUND for a version it no longer holds.
#ifndef TRIBUTARY_WORKER_COORDINATOR_API_H_
#define TRIBUTARY_WORKER_COORDINATOR_API_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::worker {

// A payload named by its size and SHA-256 (the wire form, 32 bytes), as a
// task names its model and shard: enough to fetch it from anywhere that
// serves it by digest (GET /blobs/<sha256>) and verify what comes back.
struct BlobRef {
  std::string sha256;
  uint64_t bytes = 0;
};

class CoordinatorApi {
 public:
  virtual ~CoordinatorApi() = default;

  // Joins and keeps the session token for every later call.
  virtual absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest& request) = 0;
  // `current_task` is the task being computed (0: none), `held` every
  // task the worker still holds.
  virtual absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t current_task,
                                                                    absl::Span<const uint64_t> held) = 0;
  // Leases the next task; the tasks in `keep` stay leased to this worker.
  virtual absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t> keep) = 0;
  // The weights of `version`, verified: DATA_LOSS when they do not match
  // the digest and size the task promised. With an empty `sha256` the
  // stream names them (`bytes` is then the most accepted): for a version
  // the worker learnt of from a submit's reply.
  virtual absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string& sha256,
                                                 uint64_t bytes) = 0;
  // Model `version` as an int8 delta from `from_version`, verified against
  // the size and digest the stream announces (at most `max_bytes`).
  // NOT_FOUND when the coordinator no longer holds either version.
  virtual absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from_version,
                                                      uint64_t max_bytes) = 0;
  virtual absl::StatusOr<std::string> FetchShard(uint64_t shard_id, const std::string& sha256,
                                                 uint64_t bytes) = 0;
  // The size and digest of model `version`, or of its delta from
  // `from_version`, without the bytes (the fetches' digest_only): what a
  // download by digest needs. NOT_FOUND as for the fetches. By default
  // UNIMPLEMENTED (BlobFirstApi then fetches such payloads over the
  // streams); every implementation that routes calls must forward them.
  virtual absl::StatusOr<BlobRef> DescribeModel(uint64_t version);
  virtual absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t version, uint64_t from_version);
  // Called after each chunk of an upload with the payload bytes handed
  // over so far.
  using UploadProgress = std::function<void(int64_t sent_bytes)>;
  // Submitting the same task again with the same payload is safe: the
  // coordinator applies a task once. `upload`, when set, receives how long
  // the payload took to reach the coordinator (the call's time but the
  // apply the reply reports); `progress` may be empty.
  virtual absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(
      const tributary::v1::UpdateHeader& header, const std::string& payload, absl::Duration* upload,
      const UploadProgress& progress) = 0;
  virtual absl::Status Leave() = 0;

  // Waits up to `timeout` for the coordinator to be reachable for every
  // kind of call; returns whether it is.
  virtual bool WaitForConnection(absl::Duration timeout) = 0;
};

// `status` with `prefix` before its message, keeping its payloads (the
// retry hint among them).
absl::Status Prefixed(absl::string_view prefix, const absl::Status& status);

// `status` carrying the coordinator's request to wait `wait` before
// calling again (gRPC's trailing metadata kRetryAfterMetadataKey, as a
// payload).
absl::Status WithRetryHint(absl::Status status, absl::Duration wait);

// How long the coordinator asked to wait before calling again (its answer
// to a call over a rate limit), if it did; capped at kMaxRetryHint.
std::optional<absl::Duration> RetryHint(const absl::Status& status);

// `status` carrying a standby coordinator's word on where the leader is
// (gRPC's trailing metadata kLeaderMetadataKey, as a payload).
absl::Status WithLeaderHint(absl::Status status, absl::string_view leader);

// The leader's address a standby named in its answer, if it did.
std::optional<std::string> LeaderHint(const absl::Status& status);

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_COORDINATOR_API_H_
