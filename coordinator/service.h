// The gRPC shell of the coordinator: each handler authenticates, bounds and
// decodes its input, hands it to the TrainingRun, and maps the returned
// absl::Status onto a grpc::Status. No training or bookkeeping logic lives
// here.
//
// What a client may ask is limited before the run sees it (docs/SECURITY.md;
// the job's `limits`): joins per minute per identity and per address, calls
// per second per session (RESOURCE_EXHAUSTED with a retry hint in the
// trailing metadata, kRetryAfterMetadataKey), streams per worker, uploads in
// flight, the size of an upload and of every message, and how long a stream
// may stay open. Each refusal is counted by reason (TrainingRun::CountRefused).
#ifndef TRIBUTARY_COORDINATOR_SERVICE_H_
#define TRIBUTARY_COORDINATOR_SERVICE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/codec/codec.h"
#include "common/serial_executor.h"
#include "coordinator/blob_index.h"
#include "coordinator/dataset.h"
#include "coordinator/delta_cache.h"
#include "coordinator/join_tokens.h"
#include "coordinator/rate_limiter.h"
#include "coordinator/run.h"
#include "coordinator/stream_table.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"

namespace tributary::coordinator {

grpc::Status ToGrpcStatus(const absl::Status& status);

// `status` as a grpc::Status; a retry hint it carries (WithRetryHint) goes
// into the call's trailing metadata under kRetryAfterMetadataKey.
grpc::Status Reply(grpc::CallbackServerContext* context, const absl::Status& status);

// RESOURCE_EXHAUSTED `message`, carrying a hint to retry after `wait`.
absl::Status WithRetryHint(absl::string_view message, absl::Duration wait);

// A stream the service can end before its client does (past its deadline).
class Cuttable {
 public:
  virtual ~Cuttable() = default;
  // Ends the stream now, unless it is past the point of being cut (an
  // upload being applied); returns whether it did. Thread-safe, does not
  // block on the network.
  virtual bool Cut() = 0;
};

class CoordinatorService final : public tributary::v1::Coordinator::CallbackService {
 public:
  // All references are borrowed and must outlive the service. An empty
  // `tokens` table lets anyone join.
  CoordinatorService(TrainingRun& run, const Dataset& dataset, const Codec& codec, JoinTokens tokens,
                     Clock& clock);

  // Replaces the join tokens (a reloaded --join_token_file); sessions of
  // tokens no longer listed end. Returns how many ended.
  int SetJoinTokens(JoinTokens tokens);

  // Cuts off streams past their deadline. The coordinator calls it on a
  // timer.
  void CutOverdueStreams();

  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context,
                                 const tributary::v1::JoinRequest* request,
                                 tributary::v1::JoinResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const tributary::v1::HeartbeatRequest* request,
                                      tributary::v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* context,
                                    const tributary::v1::GetTaskRequest* request,
                                    tributary::v1::GetTaskResponse* response) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchModel(
      grpc::CallbackServerContext* context, const tributary::v1::FetchModelRequest* request) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchModelDelta(
      grpc::CallbackServerContext* context, const tributary::v1::FetchModelDeltaRequest* request) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchShard(
      grpc::CallbackServerContext* context, const tributary::v1::FetchShardRequest* request) override;
  grpc::ServerReadReactor<tributary::v1::SubmitUpdateChunk>* SubmitUpdate(
      grpc::CallbackServerContext* context, tributary::v1::SubmitUpdateResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context,
                                  const tributary::v1::LeaveRequest* request,
                                  tributary::v1::LeaveResponse* response) override;

  // Decodes, validates and applies a fully received upload. Used by the
  // SubmitUpdate reactor once the stream ends, on the applier's thread.
  absl::StatusOr<SubmitResult> CompleteSubmit(const std::string& worker_id,
                                              const tributary::v1::UpdateHeader& header,
                                              const std::string& payload);
  // The models, deltas and shards the status server's GET /blobs/ serves:
  // every model and delta this service hands out or names is added.
  const BlobIndex& blobs() const { return blobs_; }
  // Where the reactors post finished uploads (serial_executor.h).
  SerialExecutor& applier() { return applier_; }
  // Checks an upload's header before its payload is buffered.
  absl::Status CheckHeader(const tributary::v1::UpdateHeader& header) const;

  // Stream bookkeeping for the reactors: Register after opening, Unregister
  // in OnDone before the reactor is deleted.
  void RegisterStream(uint64_t id, Cuttable* stream);
  void UnregisterStream(uint64_t id);

  // Counts a refusal (`reason`, see TrainingRun::CountRefused) and returns
  // it as Reply does.
  grpc::Status Refuse(grpc::CallbackServerContext* context, absl::string_view reason, const absl::Status& status);

 private:
  // Whether a call counts against its session's call rate. Leave does not:
  // it ends the session, so a session makes it once, and a worker that ends
  // its job over the rate (a fast MLP worker does) must still be told apart
  // from one that vanished, instead of being declared lost 10 s later.
  enum class RateLimited { kYes, kNo };
  // The calling worker's id, from the session token in the call's metadata,
  // once its session's rate limit admits the call. UNAUTHENTICATED or
  // RESOURCE_EXHAUSTED with a retry hint, counted.
  absl::StatusOr<std::string> Admit(grpc::CallbackServerContext* context, RateLimited limited = RateLimited::kYes);
  // Checks the join rate of `identity` and of the peer's address.
  absl::Status AdmitJoin(const std::string& identity, const std::string& address);
  // Opens a stream of `worker` of `bytes` (a bound for uploads) in the table.
  absl::StatusOr<uint64_t> OpenStream(const std::string& worker, StreamKind kind, uint64_t bytes);
  // The reactor for a download of `payload` to `worker` (or only its size
  // and digest), or one that refuses with the stream limit's status.
  // `raw_bytes`: what the payload stands for as fp32 (a model delta stands
  // for a whole model).
  grpc::ServerWriteReactor<tributary::v1::Chunk>* StartDownload(grpc::CallbackServerContext* context,
                                                                const std::string& worker,
                                                                std::shared_ptr<const void> owner,
                                                                absl::string_view payload, const Sha256Digest& sha256,
                                                                int64_t raw_bytes, bool digest_only);
  // Adds model `version` (named by a task as `sha256`, the wire form) to
  // blobs_ unless it is there; the snapshot was hashed when it was made.
  void HoldModel(uint64_t version, const std::string& sha256);

  TrainingRun& run_;
  const Dataset& dataset_;
  const Codec& codec_;
  Clock& clock_;
  const tributary::v1::LimitsSpec limits_;

  absl::Mutex tokens_mu_;
  std::shared_ptr<const JoinTokens> tokens_ ABSL_GUARDED_BY(tokens_mu_);

  absl::Mutex admission_mu_;
  RateLimiter session_calls_ ABSL_GUARDED_BY(admission_mu_);
  RateLimiter identity_joins_ ABSL_GUARDED_BY(admission_mu_);
  RateLimiter address_joins_ ABSL_GUARDED_BY(admission_mu_);

  // Model deltas, encoded once per pair of versions.
  DeltaCache deltas_;
  BlobIndex blobs_;

  absl::Mutex streams_mu_;
  StreamTable streams_ ABSL_GUARDED_BY(streams_mu_);
  absl::flat_hash_map<uint64_t, Cuttable*> live_streams_ ABSL_GUARDED_BY(streams_mu_);

  // Last: destroyed first, running the uploads still queued while the
  // rest of the service is alive.
  SerialExecutor applier_;
};

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts the gRPC server on `address` (port 0 picks a free one),
// refusing any message above kMaxReceiveMessageBytes. UNAVAILABLE when the
// address cannot be bound.
absl::StatusOr<RunningServer> StartGrpcServer(const std::string& address,
                                              std::shared_ptr<grpc::ServerCredentials> credentials,
                                              grpc::Service* service);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_SERVICE_H_
