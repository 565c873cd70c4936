// The worker's side of the gRPC API: CoordinatorApi (coordinator_api.h)
// over two gRPC connections, each call with a deadline (timeouts.h).
// Downloads are reassembled from chunks and verified against the SHA-256
// the coordinator announced. Thread-safe (the heartbeat thread shares it
// with the task loop).
#ifndef TRIBUTARY_WORKER_CLIENT_H_
#define TRIBUTARY_WORKER_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"
#include "worker/coordinator_api.h"

namespace tributary::worker {

// The channel settings of a worker's connections: one connection per
// channel, prompt reconnects, the stream window and keepalives of
// common/wire.h. bench/loadgen's simulated workers use them too.
grpc::ChannelArguments WorkerChannelArgs();

class CoordinatorClient : public CoordinatorApi {
 public:
  CoordinatorClient(const std::string& address,
                    std::shared_ptr<grpc::ChannelCredentials> credentials);

  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest& request) override;
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t current_task,
                                                            absl::Span<const uint64_t> held) override;
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t> keep) override;
  absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string& sha256,
                                         uint64_t bytes) override;
  absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from_version,
                                              uint64_t max_bytes) override;
  absl::StatusOr<std::string> FetchShard(uint64_t shard_id, const std::string& sha256,
                                         uint64_t bytes) override;
  absl::StatusOr<BlobRef> DescribeModel(uint64_t version) override;
  absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t version, uint64_t from_version) override;
  // Progress counts the payload bytes handed to gRPC, which buffers a
  // little: on a slow link the count runs ahead of the wire by about one
  // flow-control window. gRPC buffers the writes, so the end of writing
  // says little about `upload` on a slow link; the reply's apply_s does.
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(const tributary::v1::UpdateHeader& header,
                                                                   const std::string& payload,
                                                                   absl::Duration* upload,
                                                                   const UploadProgress& progress) override;
  absl::Status Leave() override;

  // Waits for both connections (starting them if idle). (Waiting for one
  // only, a worker whose bulk connection was reset went on leasing tasks
  // it could not fetch a model for, dozens a second.)
  bool WaitForConnection(absl::Duration timeout) override;

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
  // Reads a digest-only answer (one chunk: size and digest, no data) of the
  // stream `open` starts; waits out short retry hints.
  absl::StatusOr<BlobRef> Describe(const OpenStream& open);
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

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_CLIENT_H_
