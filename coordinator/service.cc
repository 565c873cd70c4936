#include "coordinator/service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/codec/model_delta.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/wire.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::Chunk;
using tributary::v1::SubmitUpdateChunk;

constexpr int kSessionTokenBytes = 32;
constexpr uint64_t kMaxExamplesPerUpdate = uint64_t{1} << 24;

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::StatusOr<std::string> NewSessionToken() {
  unsigned char bytes[kSessionTokenBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("RAND_bytes failed");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

bool TokensEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Streams one payload in kMaxChunkBytes pieces, the first carrying its size
// and SHA-256; or, built with an error, finishes with it at once. Calls
// `on_done` with the bytes the client received. Deletes itself when done.
class PayloadWriter final : public grpc::ServerWriteReactor<Chunk> {
 public:
  PayloadWriter(std::shared_ptr<const void> owner, absl::string_view payload,
                const Sha256Digest& sha256, std::function<void(int64_t)> on_done)
      : owner_(std::move(owner)), payload_(payload), sha256_(sha256), on_done_(std::move(on_done)) {
    NextWrite();
  }
  explicit PayloadWriter(const absl::Status& error) { Finish(ToGrpcStatus(error)); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    sent_ += chunk_.data().size();
    NextWrite();
  }
  void OnDone() override {
    if (on_done_) on_done_(sent_);
    delete this;
  }

 private:
  void NextWrite() {
    if (started_ && offset_ == payload_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    if (!started_) {
      chunk_.set_total_bytes(payload_.size());
      chunk_.set_sha256(DigestBytes(sha256_));
    }
    chunk_.set_offset(offset_);
    const absl::string_view piece = payload_.substr(offset_, kMaxChunkBytes);
    chunk_.set_data(piece.data(), piece.size());
    offset_ += piece.size();
    started_ = true;  // An empty payload still gets its one header chunk.
    StartWrite(&chunk_);
  }

  std::shared_ptr<const void> owner_;  // Keeps payload_ alive.
  absl::string_view payload_;
  Sha256Digest sha256_{};
  std::function<void(int64_t)> on_done_;
  Chunk chunk_;
  bool started_ = false;
  size_t offset_ = 0;
  int64_t sent_ = 0;
};

// Receives an upload: the header, then payload chunks up to the size the
// header announced; applies it when the stream ends. Deletes itself.
class UpdateReader final : public grpc::ServerReadReactor<SubmitUpdateChunk> {
 public:
  UpdateReader(CoordinatorService& service, TrainingRun& run, grpc::CallbackServerContext* context,
               std::string worker_id, tributary::v1::SubmitUpdateResponse* response)
      : service_(service),
        run_(run),
        context_(context),
        worker_id_(std::move(worker_id)),
        response_(response) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok && context_->IsCancelled()) {
      // The connection dropped mid-upload: not the worker's fault, not counted.
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled"));
      return;
    }
    absl::Status status = ok ? Consume() : EndOfStream();
    if (!status.ok()) {
      Finish(ToGrpcStatus(run_.RecordInvalid(worker_id_, status)));
    } else if (ok) {
      StartRead(&chunk_);
    } else {
      absl::StatusOr<SubmitResult> result = service_.CompleteSubmit(worker_id_, header_, payload_);
      if (result.ok()) {
        response_->set_applied(result->applied);
        response_->set_model_version(result->model_version);
      }
      Finish(ToGrpcStatus(result.status()));
    }
  }
  void OnDone() override { delete this; }

 private:
  absl::Status Consume() {
    if (!has_header_) {
      if (!chunk_.has_header()) {
        return absl::InvalidArgumentError("SubmitUpdate: the first message must be the header");
      }
      header_ = chunk_.header();
      has_header_ = true;
      if (absl::Status s = service_.CheckHeader(header_); !s.ok()) return s;
      payload_.reserve(header_.encoded_bytes());
      return absl::OkStatus();
    }
    if (!chunk_.has_data()) return absl::InvalidArgumentError("SubmitUpdate: a second header");
    if (payload_.size() + chunk_.data().size() > header_.encoded_bytes()) {
      return absl::InvalidArgumentError(absl::StrCat("task ", header_.task_id(),
                                                     ": more payload than the header's ",
                                                     header_.encoded_bytes(), " bytes"));
    }
    payload_.append(chunk_.data());
    return absl::OkStatus();
  }

  absl::Status EndOfStream() const {
    if (!has_header_) return absl::InvalidArgumentError("SubmitUpdate: empty stream");
    if (payload_.size() != header_.encoded_bytes()) {
      return absl::InvalidArgumentError(absl::StrCat("task ", header_.task_id(), ": payload has ",
                                                     payload_.size(), " of ",
                                                     header_.encoded_bytes(), " bytes"));
    }
    return absl::OkStatus();
  }

  CoordinatorService& service_;
  TrainingRun& run_;
  grpc::CallbackServerContext* context_;
  const std::string worker_id_;
  tributary::v1::SubmitUpdateResponse* response_;
  SubmitUpdateChunk chunk_;
  tributary::v1::UpdateHeader header_;
  bool has_header_ = false;
  std::string payload_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

CoordinatorService::CoordinatorService(TrainingRun& run, const Dataset& dataset, const Codec& codec,
                                       int64_t num_params, std::string join_token)
    : run_(run),
      dataset_(dataset),
      codec_(codec),
      num_params_(num_params),
      join_token_(std::move(join_token)) {}

absl::StatusOr<std::string> CoordinatorService::Authenticate(grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kSessionMetadataKey);
  if (it == metadata.end()) return absl::UnauthenticatedError("missing session token; call Join");
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearerPrefix)) {
    return absl::UnauthenticatedError("malformed authorization metadata");
  }
  return run_.Authenticate(std::string(value.substr(sizeof(kBearerPrefix) - 1)));
}

grpc::ServerUnaryReactor* CoordinatorService::Join(grpc::CallbackServerContext* context,
                                                   const tributary::v1::JoinRequest* request,
                                                   tributary::v1::JoinResponse* response) {
  if (request->join_token().size() > kMaxJoinTokenBytes || request->name().size() > kMaxNameBytes ||
      request->device().size() > kMaxDeviceBytes || request->threads() < 0) {
    return FinishUnary(context, absl::InvalidArgumentError("Join: field out of bounds"));
  }
  if (!join_token_.empty() && !TokensEqual(request->join_token(), join_token_)) {
    TLOG(WARNING) << "join refused from " << context->peer() << ": bad join token";
    return FinishUnary(context, absl::UnauthenticatedError("bad join token"));
  }
  absl::StatusOr<std::string> session = NewSessionToken();
  if (!session.ok()) return FinishUnary(context, session.status());
  const tributary::v1::JobSpec& job = run_.job();
  response->set_worker_id(run_.Join(request->name(), request->device(), request->threads(), *session));
  response->set_session_token(*session);
  response->set_job_name(job.name());
  *response->mutable_model() = job.model();
  *response->mutable_codec() = job.codec();
  response->set_heartbeat_interval_s(job.lease().heartbeat_interval_s());
  response->set_worker_momentum(job.worker_momentum());
  if (job.local_steps() > 1) {
    *response->mutable_inner_optimizer() = job.inner_optimizer();
    response->set_inner_schedule_steps(run_.InnerScheduleSteps());
  }
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::Heartbeat(grpc::CallbackServerContext* context,
                                                        const tributary::v1::HeartbeatRequest* request,
                                                        tributary::v1::HeartbeatResponse* response) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return FinishUnary(context, worker.status());
  for (uint64_t task : run_.Heartbeat(*worker, request->task_id())) {
    response->add_revoked_task_ids(task);
  }
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorService::GetTask(grpc::CallbackServerContext* context,
                                                      const tributary::v1::GetTaskRequest*,
                                                      tributary::v1::GetTaskResponse* response) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return FinishUnary(context, worker.status());
  TaskDecision decision = run_.GetTask(*worker);
  if (decision.task) {
    *response->mutable_task() = *std::move(decision.task);
  } else if (decision.job_done) {
    response->set_job_done(true);
  } else {
    response->set_retry_after_s(absl::ToDoubleSeconds(decision.retry_after));
  }
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchModel(
    grpc::CallbackServerContext* context, const tributary::v1::FetchModelRequest* request) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return new PayloadWriter(worker.status());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = run_.Model(request->version());
  if (!model.ok()) return new PayloadWriter(model.status());
  const ModelSnapshot& snapshot = **model;
  return new PayloadWriter(*model, snapshot.bytes, snapshot.sha256,
                           [this, id = *worker](int64_t sent) { run_.CountSent(id, sent); });
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchModelDelta(
    grpc::CallbackServerContext* context, const tributary::v1::FetchModelDeltaRequest* request) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return new PayloadWriter(worker.status());
  if (!run_.job().codec().model_deltas()) {
    return new PayloadWriter(absl::FailedPreconditionError("this job sends models whole (codec.model_deltas)"));
  }
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> to = run_.Model(request->version());
  if (!to.ok()) return new PayloadWriter(to.status());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> from = run_.Model(request->from_version());
  if (!from.ok()) return new PayloadWriter(from.status());
  auto delta = std::make_shared<const std::string>(EncodeModelDelta((*to)->params(), (*from)->params()));
  return new PayloadWriter(delta, *delta, Sha256(*delta),
                           [this, id = *worker](int64_t sent) { run_.CountSent(id, sent); });
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchShard(
    grpc::CallbackServerContext* context, const tributary::v1::FetchShardRequest* request) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return new PayloadWriter(worker.status());
  if (request->shard_id() >= dataset_.shards.size()) {
    return new PayloadWriter(
        run_.RecordInvalid(*worker, absl::InvalidArgumentError(absl::StrCat(
                                        "shard ", request->shard_id(), " does not exist"))));
  }
  const Shard& shard = dataset_.shards[request->shard_id()];
  return new PayloadWriter(nullptr, dataset_.ShardBytes(shard), shard.sha256,
                           [this, id = *worker](int64_t sent) { run_.CountSent(id, sent); });
}

grpc::ServerReadReactor<SubmitUpdateChunk>* CoordinatorService::SubmitUpdate(
    grpc::CallbackServerContext* context, tributary::v1::SubmitUpdateResponse* response) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) {
    // A reactor that refuses at once, before reading anything.
    class Refuse final : public grpc::ServerReadReactor<SubmitUpdateChunk> {
     public:
      explicit Refuse(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
      void OnDone() override { delete this; }
    };
    return new Refuse(worker.status());
  }
  return new UpdateReader(*this, run_, context, *worker, response);
}

absl::Status CoordinatorService::CheckHeader(const tributary::v1::UpdateHeader& header) const {
  const std::string where = absl::StrCat("task ", header.task_id(), ": ");
  if (header.codec() != codec_.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "codec \"", header.codec(), "\", the job uses \"", codec_.name(), "\""));
  }
  const size_t limit = codec_.MaxEncodedBytes();
  if (header.encoded_bytes() > limit) {
    return absl::ResourceExhaustedError(absl::StrCat(where, "update of ", header.encoded_bytes(),
                                                     " bytes exceeds the limit of ", limit));
  }
  if (!std::isfinite(header.loss()) || header.loss() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, "loss ", header.loss(), " is not valid"));
  }
  if (header.examples() == 0 || header.examples() > kMaxExamplesPerUpdate) {
    return absl::InvalidArgumentError(absl::StrCat(where, header.examples(), " examples"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SubmitResult> CoordinatorService::CompleteSubmit(
    const std::string& worker_id, const tributary::v1::UpdateHeader& header,
    const std::string& payload) {
  std::vector<float> update(num_params_);
  if (absl::Status s = codec_.Decode(payload, absl::MakeSpan(update)); !s.ok()) {
    return run_.RecordInvalid(
        worker_id, absl::InvalidArgumentError(absl::StrCat("task ", header.task_id(), ": ", s.message())));
  }
  return run_.Submit(worker_id, header, update, payload.size());
}

grpc::ServerUnaryReactor* CoordinatorService::Leave(grpc::CallbackServerContext* context,
                                                    const tributary::v1::LeaveRequest*,
                                                    tributary::v1::LeaveResponse*) {
  absl::StatusOr<std::string> worker = Authenticate(context);
  if (!worker.ok()) return FinishUnary(context, worker.status());
  run_.Leave(*worker);
  return FinishUnary(context, absl::OkStatus());
}

absl::StatusOr<RunningServer> StartGrpcServer(const std::string& address,
                                              std::shared_ptr<grpc::ServerCredentials> credentials,
                                              grpc::Service* service) {
  RunningServer running;
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second coordinator
  // silently share the port (and its traffic) with the first.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  // Accept the workers' keepalive pings, and ping them (common/wire.h).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kServerMinPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kServerKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder.AddListeningPort(address, std::move(credentials), &running.port);
  builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (in use?)"));
  }
  return running;
}

}  // namespace tributary::coordinator
