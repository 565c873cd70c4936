// What a standby coordinator (one that lost the election, docs/HA.md)
// answers on --listen: every call UNAVAILABLE, naming the leader's address
// in the trailing metadata (kLeaderMetadataKey) when it knows it, so a
// worker given several coordinator addresses goes straight to the leader.
// It touches no run: a standby holds none until it is elected.
#ifndef TRIBUTARY_COORDINATOR_STANDBY_SERVICE_H_
#define TRIBUTARY_COORDINATOR_STANDBY_SERVICE_H_

#include <functional>
#include <string>

#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"

namespace tributary::coordinator {

class StandbyService final : public tributary::v1::Coordinator::CallbackService {
 public:
  // `leader` returns the leader's address, or "" while none is known.
  explicit StandbyService(std::function<std::string()> leader);

  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context, const tributary::v1::JoinRequest*,
                                 tributary::v1::JoinResponse*) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context, const tributary::v1::HeartbeatRequest*,
                                      tributary::v1::HeartbeatResponse*) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* context, const tributary::v1::GetTaskRequest*,
                                    tributary::v1::GetTaskResponse*) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchModel(grpc::CallbackServerContext* context,
                                                             const tributary::v1::FetchModelRequest*) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchModelDelta(
      grpc::CallbackServerContext* context, const tributary::v1::FetchModelDeltaRequest*) override;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* FetchShard(grpc::CallbackServerContext* context,
                                                             const tributary::v1::FetchShardRequest*) override;
  grpc::ServerReadReactor<tributary::v1::SubmitUpdateChunk>* SubmitUpdate(
      grpc::CallbackServerContext* context, tributary::v1::SubmitUpdateResponse*) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context, const tributary::v1::LeaveRequest*,
                                  tributary::v1::LeaveResponse*) override;

 private:
  // UNAVAILABLE, with the leader in `context`'s trailing metadata.
  grpc::Status NotLeader(grpc::CallbackServerContext* context) const;
  grpc::ServerUnaryReactor* RefuseUnary(grpc::CallbackServerContext* context) const;
  grpc::ServerWriteReactor<tributary::v1::Chunk>* RefuseDownload(grpc::CallbackServerContext* context) const;

  const std::function<std::string()> leader_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_STANDBY_SERVICE_H_
