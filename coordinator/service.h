// The gRPC shell of the coordinator: each handler authenticates, bounds and
// decodes its input, hands it to the TrainingRun, and maps the returned
// absl::Status onto a grpc::Status. No training or bookkeeping logic lives
// here.
#ifndef TRIBUTARY_COORDINATOR_SERVICE_H_
#define TRIBUTARY_COORDINATOR_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/codec/codec.h"
#include "coordinator/dataset.h"
#include "coordinator/run.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"

namespace tributary::coordinator {

grpc::Status ToGrpcStatus(const absl::Status& status);

class CoordinatorService final : public tributary::v1::Coordinator::CallbackService {
 public:
  // All arguments are borrowed and must outlive the service. An empty
  // `join_token` lets anyone join.
  CoordinatorService(TrainingRun& run, const Dataset& dataset, const Codec& codec,
                     int64_t num_params, std::string join_token);

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
  // SubmitUpdate reactor once the stream ends.
  absl::StatusOr<SubmitResult> CompleteSubmit(const std::string& worker_id,
                                              const tributary::v1::UpdateHeader& header,
                                              const std::string& payload);
  // Checks an upload's header before its payload is buffered.
  absl::Status CheckHeader(const tributary::v1::UpdateHeader& header) const;

 private:
  // The calling worker's id, from the session token in the call's metadata.
  absl::StatusOr<std::string> Authenticate(grpc::CallbackServerContext* context);

  TrainingRun& run_;
  const Dataset& dataset_;
  const Codec& codec_;
  const int64_t num_params_;
  const std::string join_token_;
};

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Builds and starts the gRPC server on `address` (port 0 picks a free one).
// UNAVAILABLE when the address cannot be bound.
absl::StatusOr<RunningServer> StartGrpcServer(const std::string& address,
                                              std::shared_ptr<grpc::ServerCredentials> credentials,
                                              grpc::Service* service);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_SERVICE_H_
