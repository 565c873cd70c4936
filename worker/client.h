// The worker's side of the gRPC API: one method per RPC, each with a
// deadline, each returning absl::Status. Downloads are reassembled from
// chunks and verified against the SHA-256 the coordinator announced.
// Thread-safe (the heartbeat thread shares it with the task loop).
#ifndef TRIBUTARY_WORKER_CLIENT_H_
#define TRIBUTARY_WORKER_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"

namespace tributary::worker {

class CoordinatorClient {
 public:
  CoordinatorClient(const std::string& address,
                    std::shared_ptr<grpc::ChannelCredentials> credentials);

  // Joins and keeps the session token for every later call.
  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest& request);
  // `current_task` is the task being computed (0: none), `held` every
  // task the worker still holds.
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t current_task,
                                                            absl::Span<const uint64_t> held = {});
  // Leases the next task; the tasks in `keep` stay leased to this worker.
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t> keep = {});
  // The weights of `version`, verified: DATA_LOSS when they do not match
  // the digest and size the task promised. With an empty `sha256` the
  // stream names them (`bytes` is then the most accepted): for a version
  // the worker learnt of from a submit's reply.
  absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string& sha256,
                                         uint64_t bytes);
  // Model `version` as an int8 delta from `from_version`, verified against
  // the size and digest the stream announces (at most `max_bytes`).
  // NOT_FOUND when the coordinator no longer holds either version.
  absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from_version, uint64_t max_bytes);
  absl::StatusOr<std::string> FetchShard(uint64_t shard_id, const std::string& sha256,
                                         uint64_t bytes);
  // Called after each chunk of an upload with the payload bytes handed to
  // gRPC so far (it buffers a little: on a slow link the count runs ahead of
  // the wire by about one flow-control window).
  using UploadProgress = std::function<void(int64_t sent_bytes)>;
  // `upload`, when set, receives how long the payload took to reach the
  // coordinator: the call's time but the apply the reply reports (gRPC
  // buffers the writes, so the end of writing says little on a slow link).
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(
      const tributary::v1::UpdateHeader& header, const std::string& payload,
      absl::Duration* upload = nullptr, const UploadProgress& progress = nullptr);
  absl::Status Leave();

  // Waits up to `timeout` for both connections to the coordinator (starting
  // them if idle); returns whether there are. (Waiting for one only, a
  // worker whose bulk connection was reset went on leasing tasks it could
  // not fetch a model for, dozens a second.)
  bool WaitForConnection(absl::Duration timeout);

 private:
  enum class Connection { kFailFast, kWait };
  // A context with the session token and a deadline `timeout` from now.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout,
                                                  Connection connection = Connection::kFailFast);
  using OpenStream = std::function<std::unique_ptr<grpc::ClientReader<tributary::v1::Chunk>>(
      grpc::ClientContext*)>;
  // Who names the payload's size and digest: the task, in advance (then
  // `sha256` and `bytes` must match exactly), or the stream's first chunk
  // (then `bytes` is the most accepted).
  enum class Announced { kByTask, kByStream };
  // Runs a chunked download that `open` starts, and verifies it; waits out
  // short retry hints.
  absl::StatusOr<std::string> Download(const OpenStream& open, const std::string& sha256, uint64_t bytes,
                                       Announced announced);
  absl::StatusOr<std::string> DownloadOnce(const OpenStream& open, std::string sha256, uint64_t bytes,
                                           Announced announced);
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdateOnce(const tributary::v1::UpdateHeader& header,
                                                                       const std::string& payload,
                                                                       absl::Duration* upload,
                                                                       const UploadProgress& progress);

  // Two connections: `control_` for the small, latency-bound calls (join,
  // heartbeats, tasks, shards), `bulk_` for models and updates. On a slow
  // link a model download fills its connection's buffers for many seconds;
  // on one connection a heartbeat would queue behind it past the
  // heartbeat timeout (measured: at 2 Mbit/s every worker was declared
  // lost mid-download, again and again).
  std::shared_ptr<grpc::Channel> control_channel_;
  std::shared_ptr<grpc::Channel> bulk_channel_;
  std::unique_ptr<tributary::v1::Coordinator::Stub> control_;
  std::unique_ptr<tributary::v1::Coordinator::Stub> bulk_;
  absl::Mutex mu_;
  std::string session_token_ ABSL_GUARDED_BY(mu_);
};

// `status` with `prefix` before its message, keeping its payloads (the
// retry hint among them).
absl::Status Prefixed(absl::string_view prefix, const absl::Status& status);

// How long the coordinator asked to wait before calling again (its answer
// to a call over a rate limit), if it did; capped at a few minutes.
std::optional<absl::Duration> RetryHint(const absl::Status& status);

// The deadline for moving `bytes` over a slow home link.
absl::Duration TransferTimeout(uint64_t bytes);

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_CLIENT_H_
