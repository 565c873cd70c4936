#include "coordinator/standby_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/wire.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::Chunk;
using tributary::v1::SubmitUpdateChunk;

// Reactors that finish at once with `status` and delete themselves.
class FinishedWriter final : public grpc::ServerWriteReactor<Chunk> {
 public:
  explicit FinishedWriter(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

class FinishedReader final : public grpc::ServerReadReactor<SubmitUpdateChunk> {
 public:
  explicit FinishedReader(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

StandbyService::StandbyService(std::function<std::string()> leader) : leader_(std::move(leader)) {}

grpc::Status StandbyService::NotLeader(grpc::CallbackServerContext* context) const {
  const std::string leader = leader_();
  if (leader.empty()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this coordinator is a standby; no leader is elected yet");
  }
  context->AddTrailingMetadata(kLeaderMetadataKey, leader);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("this coordinator is a standby; the leader is at ", leader));
}

grpc::ServerUnaryReactor* StandbyService::RefuseUnary(grpc::CallbackServerContext* context) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(NotLeader(context));
  return reactor;
}

grpc::ServerWriteReactor<Chunk>* StandbyService::RefuseDownload(grpc::CallbackServerContext* context) const {
  return new FinishedWriter(NotLeader(context));
}

grpc::ServerUnaryReactor* StandbyService::Join(grpc::CallbackServerContext* context,
                                               const tributary::v1::JoinRequest*, tributary::v1::JoinResponse*) {
  return RefuseUnary(context);
}

grpc::ServerUnaryReactor* StandbyService::Heartbeat(grpc::CallbackServerContext* context,
                                                    const tributary::v1::HeartbeatRequest*,
                                                    tributary::v1::HeartbeatResponse*) {
  return RefuseUnary(context);
}

grpc::ServerUnaryReactor* StandbyService::GetTask(grpc::CallbackServerContext* context,
                                                  const tributary::v1::GetTaskRequest*,
                                                  tributary::v1::GetTaskResponse*) {
  return RefuseUnary(context);
}

grpc::ServerWriteReactor<Chunk>* StandbyService::FetchModel(grpc::CallbackServerContext* context,
                                                            const tributary::v1::FetchModelRequest*) {
  return RefuseDownload(context);
}

grpc::ServerWriteReactor<Chunk>* StandbyService::FetchModelDelta(grpc::CallbackServerContext* context,
                                                                 const tributary::v1::FetchModelDeltaRequest*) {
  return RefuseDownload(context);
}

grpc::ServerWriteReactor<Chunk>* StandbyService::FetchShard(grpc::CallbackServerContext* context,
                                                            const tributary::v1::FetchShardRequest*) {
  return RefuseDownload(context);
}

grpc::ServerReadReactor<SubmitUpdateChunk>* StandbyService::SubmitUpdate(grpc::CallbackServerContext* context,
                                                                         tributary::v1::SubmitUpdateResponse*) {
  return new FinishedReader(NotLeader(context));
}

grpc::ServerUnaryReactor* StandbyService::Leave(grpc::CallbackServerContext* context,
                                                const tributary::v1::LeaveRequest*, tributary::v1::LeaveResponse*) {
  return RefuseUnary(context);
}

}  // namespace tributary::coordinator
