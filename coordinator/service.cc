#include "coordinator/service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/codec/model_delta.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/wire.h"
#include "coordinator/identity.h"
#include "coordinator/reasons.h"
#include "coordinator/task_builder.h"
#include "coordinator/tls.h"
#include "coordinator/upload.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::Chunk;
using tributary::v1::SubmitUpdateChunk;

constexpr int kSessionTokenBytes = 32;
constexpr uint64_t kMaxExamplesPerUpdate = uint64_t{1} << 24;
// Keys each rate limiter tracks (sessions, identities, addresses); see
// rate_limiter.h for what happens beyond.
constexpr size_t kMaxTrackedKeys = 100'000;
// Joins one identity or address may make at once before the per-minute
// rate applies: a machine starting a rack of workers, or a run's workers
// all rejoining a restarted coordinator (with a burst of 5, the last of ten
// local workers joined seconds late, and a 15-second test run was mostly
// its attackers').
constexpr double kJoinBurst = 32;
constexpr int kServerHandshakeTimeoutMs = 5'000;
// Model deltas kept: the pairs workers ask for when a version appears (one
// per version they hold, back to the staleness bound), for the newest
// versions, within a bound on memory (a delta is about a byte a parameter).
constexpr DeltaCacheLimits kDeltaCacheLimits{16, size_t{128} << 20};

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

absl::StatusOr<std::string> NewSessionToken() {
  unsigned char bytes[kSessionTokenBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("RAND_bytes failed");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

// Streams one payload in kMaxChunkBytes pieces, the first carrying its size
// and SHA-256 (with `digest_only`, that first chunk only, without data);
// or, built with an error, finishes with it at once. Calls `on_done` with
// the bytes the client received. Deletes itself when done.
// Cut() cancels the call: a client that stopped reading leaves a write
// pending that only a cancellation ends.
class PayloadWriter final : public grpc::ServerWriteReactor<Chunk>, public Cuttable {
 public:
  PayloadWriter(grpc::CallbackServerContext* context, std::shared_ptr<const void> owner, absl::string_view payload,
                const Sha256Digest& sha256, bool digest_only, std::function<void(int64_t)> on_done)
      : context_(context),
        owner_(std::move(owner)),
        payload_(payload),
        sha256_(sha256),
        digest_only_(digest_only),
        on_done_(std::move(on_done)) {
    NextWrite();
  }
  explicit PayloadWriter(const grpc::Status& error) { Finish(error); }

  bool Cut() override {
    context_->TryCancel();
    return true;
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away or was too slow"));
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
    if (started_ && (digest_only_ || offset_ == payload_.size())) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    if (!started_) {
      chunk_.set_total_bytes(payload_.size());
      chunk_.set_sha256(DigestBytes(sha256_));
    }
    chunk_.set_offset(offset_);
    const absl::string_view piece = digest_only_ ? absl::string_view() : payload_.substr(offset_, kMaxChunkBytes);
    chunk_.set_data(piece.data(), piece.size());
    offset_ += piece.size();
    started_ = true;  // An empty payload still gets its one header chunk.
    StartWrite(&chunk_);
  }

  grpc::CallbackServerContext* context_ = nullptr;
  std::shared_ptr<const void> owner_;  // Keeps payload_ alive.
  absl::string_view payload_;
  Sha256Digest sha256_{};
  bool digest_only_ = false;
  std::function<void(int64_t)> on_done_;
  Chunk chunk_;
  bool started_ = false;
  size_t offset_ = 0;
  int64_t sent_ = 0;
};

// Receives an upload through an UploadAssembler and applies it when the
// stream ends. Cut() finishes it with DEADLINE_EXCEEDED unless it is
// already being applied. Deletes itself.
class UpdateReader final : public grpc::ServerReadReactor<SubmitUpdateChunk>, public Cuttable {
 public:
  UpdateReader(CoordinatorService& service, TrainingRun& run, grpc::CallbackServerContext* context,
               std::string worker_id, tributary::v1::SubmitUpdateResponse* response, size_t max_bytes,
               absl::Duration deadline, std::function<void()> on_done)
      : service_(service),
        run_(run),
        context_(context),
        worker_id_(std::move(worker_id)),
        response_(response),
        upload_(max_bytes),
        deadline_(deadline),
        started_(absl::Now()),
        on_done_(std::move(on_done)) {
    absl::MutexLock lock(&mu_);
    StartRead(&chunk_);
  }

  bool Cut() override {
    absl::MutexLock lock(&mu_);
    if (finished_ || applying_) return false;
    FinishLocked(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              absl::StrCat("upload not done within ", absl::FormatDuration(deadline_))));
    return true;
  }

  void OnReadDone(bool ok) override {
    tributary::v1::UpdateHeader header;
    std::string payload;
    {
      absl::MutexLock lock(&mu_);
      if (!ReadyToApply(ok)) return;
      applying_ = true;  // From here on Cut() leaves the stream alone.
      header = upload_.header();
      payload = upload_.TakePayload();
    }
    // Decoding and applying take a while: on the applier's thread, not
    // this one of gRPC's, and outside the lock, so Cut() never waits on them.
    const absl::Time received = absl::Now();
    service_.applier().Post([this, received, header = std::move(header), payload = std::move(payload)] {
      Apply(received, header, payload);
    });
  }
  void OnDone() override {
    on_done_();
    delete this;
  }

 private:
  void Apply(absl::Time received, const tributary::v1::UpdateHeader& header, const std::string& payload) {
    absl::StatusOr<SubmitResult> result = service_.CompleteSubmit(worker_id_, header, payload);
    if (result.ok()) {
      response_->set_applied(result->applied);
      response_->set_model_version(result->model_version);
      response_->set_apply_s(absl::ToDoubleSeconds(absl::Now() - received));
    }
    const absl::Time replied = absl::Now();
    run_.RecordSubmitLatency(replied - started_, replied - received);
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    // Outside every reaction, Finish may run OnDone (which deletes this) on
    // another thread before it returns: it is the last thing done here.
    Finish(ToGrpcStatus(result.status()));
  }

  // Takes one read's outcome: reads on, or finishes the stream, or returns
  // true when the whole upload is in and may be applied.
  bool ReadyToApply(bool ok) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return false;
    if (!ok && context_->IsCancelled()) {
      // The connection dropped mid-upload: not the worker's fault, not counted.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled"));
      return false;
    }
    if (ok) {
      Consume();
      return false;
    }
    if (absl::Status s = upload_.Finish(); !s.ok()) {
      FinishLocked(ToGrpcStatus(run_.RecordInvalid(worker_id_, s)));
      return false;
    }
    return true;
  }
  void Consume() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool had_header = upload_.has_header();
    absl::Status status = upload_.Add(chunk_);
    if (status.ok() && !had_header) status = service_.CheckHeader(upload_.header());
    if (absl::IsResourceExhausted(status)) run_.CountRefused(refused::kTooLarge);
    if (status.ok() && !had_header) {
      // Too stale already: refused before the payload comes (not invalid).
      if (absl::Status fresh = run_.RefuseIfStale(worker_id_, upload_.header()); !fresh.ok()) {
        FinishLocked(ToGrpcStatus(fresh));
        return;
      }
    }
    if (!status.ok()) {
      FinishLocked(ToGrpcStatus(run_.RecordInvalid(worker_id_, status)));
    } else {
      StartRead(&chunk_);
    }
  }
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    Finish(status);
  }

  CoordinatorService& service_;
  TrainingRun& run_;
  grpc::CallbackServerContext* context_;
  const std::string worker_id_;
  tributary::v1::SubmitUpdateResponse* response_;
  absl::Mutex mu_;
  SubmitUpdateChunk chunk_ ABSL_GUARDED_BY(mu_);
  UploadAssembler upload_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool applying_ ABSL_GUARDED_BY(mu_) = false;
  const absl::Duration deadline_;
  const absl::Time started_;
  std::function<void()> on_done_;
};

// A reactor that refuses at once, before reading anything.
class RefuseUpload final : public grpc::ServerReadReactor<SubmitUpdateChunk> {
 public:
  explicit RefuseUpload(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

absl::Duration StreamDeadline(const tributary::v1::LimitsSpec& limits, uint64_t bytes) {
  return absl::Seconds(limits.stream_grace_s() + static_cast<double>(bytes) / limits.min_transfer_bytes_per_s());
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status WithRetryHint(absl::string_view message, absl::Duration wait) {
  absl::Status status = absl::ResourceExhaustedError(message);
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
  status.SetPayload(kRetryAfterMetadataKey, absl::Cord(absl::StrCat(ms)));
  return status;
}

grpc::Status Reply(grpc::CallbackServerContext* context, const absl::Status& status) {
  if (absl::optional<absl::Cord> wait = status.GetPayload(kRetryAfterMetadataKey)) {
    context->AddTrailingMetadata(kRetryAfterMetadataKey, std::string(*wait));
  }
  return ToGrpcStatus(status);
}

CoordinatorService::CoordinatorService(TrainingRun& run, const Dataset& dataset, const Codec& codec,
                                       JoinTokens tokens, Clock& clock)
    : run_(run),
      dataset_(dataset),
      codec_(codec),
      clock_(clock),
      limits_(run.job().limits()),
      tokens_(std::make_shared<const JoinTokens>(std::move(tokens))),
      session_calls_(limits_.requests_per_s(), limits_.request_burst(), kMaxTrackedKeys),
      identity_joins_(limits_.joins_per_minute_per_identity() / 60, kJoinBurst, kMaxTrackedKeys),
      address_joins_(limits_.joins_per_minute_per_ip() / 60, kJoinBurst, kMaxTrackedKeys),
      deltas_(kDeltaCacheLimits),
      blobs_(dataset),
      streams_(limits_.max_streams_per_worker(), limits_.max_concurrent_uploads()) {}

int CoordinatorService::SetJoinTokens(JoinTokens tokens) {
  auto table = std::make_shared<const JoinTokens>(std::move(tokens));
  {
    absl::MutexLock lock(&tokens_mu_);
    tokens_ = table;
  }
  // A session that joined with the shared bare token (or none) stays while
  // the new table still admits that.
  return run_.EndRevokedSessions([&table](absl::string_view name) {
    return name.empty() ? !table->required() || table->HasName("") : table->HasName(name);
  });
}

grpc::Status CoordinatorService::Refuse(grpc::CallbackServerContext* context, absl::string_view reason,
                                        const absl::Status& status) {
  run_.CountRefused(reason);
  return Reply(context, status);
}

absl::StatusOr<std::string> CoordinatorService::Admit(grpc::CallbackServerContext* context, RateLimited limited) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kSessionMetadataKey);
  absl::StatusOr<std::string> worker = absl::UnauthenticatedError("missing session token; call Join");
  if (it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    worker = absl::ConsumePrefix(&value, kBearerPrefix)
                 ? run_.Authenticate(std::string(value))
                 : absl::StatusOr<std::string>(absl::UnauthenticatedError("malformed authorization metadata"));
  }
  if (!worker.ok()) {
    run_.CountRefused(refused::kAuth);
    return worker;
  }
  if (limited == RateLimited::kNo) return worker;
  absl::Duration wait;
  {
    absl::MutexLock lock(&admission_mu_);
    wait = session_calls_.Take(*worker, clock_.Now());
  }
  if (wait > absl::ZeroDuration()) {
    run_.CountRefused(refused::kRate);
    return WithRetryHint(absl::StrCat("over ", limits_.requests_per_s(), " calls/s (limits.requests_per_s)"), wait);
  }
  return worker;
}

absl::Status CoordinatorService::AdmitJoin(const std::string& identity, const std::string& address) {
  absl::MutexLock lock(&admission_mu_);
  const absl::Time now = clock_.Now();
  if (absl::Duration wait = identity_joins_.Take(identity, now); wait > absl::ZeroDuration()) {
    return WithRetryHint("too many joins (limits.joins_per_minute_per_identity)", wait);
  }
  if (absl::Duration wait = address_joins_.Take(address, now); wait > absl::ZeroDuration()) {
    return WithRetryHint("too many joins from this address (limits.joins_per_minute_per_ip)", wait);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CoordinatorService::OpenStream(const std::string& worker, StreamKind kind,
                                                        uint64_t bytes) {
  absl::MutexLock lock(&streams_mu_);
  return streams_.Open(worker, kind, clock_.Now() + StreamDeadline(limits_, bytes));
}

void CoordinatorService::RegisterStream(uint64_t id, Cuttable* stream) {
  absl::MutexLock lock(&streams_mu_);
  live_streams_[id] = stream;
}

void CoordinatorService::UnregisterStream(uint64_t id) {
  absl::MutexLock lock(&streams_mu_);
  streams_.Close(id);
  live_streams_.erase(id);
}

void CoordinatorService::CutOverdueStreams() {
  absl::MutexLock lock(&streams_mu_);
  for (uint64_t id : streams_.TakeOverdue(clock_.Now())) {
    auto it = live_streams_.find(id);
    if (it != live_streams_.end() && it->second->Cut()) run_.CountRefused(refused::kDeadline);
  }
}

grpc::ServerUnaryReactor* CoordinatorService::Join(grpc::CallbackServerContext* context,
                                                   const tributary::v1::JoinRequest* request,
                                                   tributary::v1::JoinResponse* response) {
  if (request->join_token().size() > kMaxJoinTokenBytes || request->name().size() > kMaxNameBytes ||
      request->device().size() > kMaxDeviceBytes || request->threads() < 0) {
    return FinishUnary(context,
                       Refuse(context, refused::kInvalid, absl::InvalidArgumentError("Join: field out of bounds")));
  }
  std::shared_ptr<const JoinTokens> tokens;
  {
    absl::MutexLock lock(&tokens_mu_);
    tokens = tokens_;
  }
  std::optional<std::string> token_name = std::string();
  if (tokens->required()) token_name = tokens->Match(request->join_token());
  const std::string address = PeerAddress(context->peer());
  if (!token_name) {
    TLOG(WARNING) << "join refused from " << SafeText(address) << ": bad join token";
    return FinishUnary(context, Refuse(context, refused::kAuth, absl::UnauthenticatedError("bad join token")));
  }
  const std::string identity =
      WorkerIdentity(*token_name, PeerCertificateFingerprint(*context->auth_context()), context->peer());
  if (absl::Status s = AdmitJoin(identity, address); !s.ok()) {
    return FinishUnary(context, Refuse(context, refused::kRate, s));
  }
  absl::StatusOr<std::string> session = NewSessionToken();
  if (!session.ok()) return FinishUnary(context, ToGrpcStatus(session.status()));
  absl::StatusOr<std::string> worker =
      run_.Join(WorkerInfo{SafeText(request->name(), kMaxNameBytes), SafeText(request->device(), kMaxDeviceBytes),
                           request->threads(), identity},
                *session);
  if (!worker.ok()) {
    return FinishUnary(
        context, Refuse(context, absl::IsPermissionDenied(worker.status()) ? refused::kBanned : refused::kSessions,
                        worker.status()));
  }
  const tributary::v1::JobSpec& job = run_.job();
  response->set_worker_id(*worker);
  response->set_session_token(*session);
  response->set_job_name(job.name());
  *response->mutable_model() = job.model();
  *response->mutable_codec() = job.codec();
  response->set_heartbeat_interval_s(job.lease().heartbeat_interval_s());
  response->set_worker_momentum(job.worker_momentum());
  response->set_overlap(job.overlap() && job.local_steps() > 1);
  // As every task's batch_examples for the largest shard.
  response->set_max_batch_examples(BatchExamples(job.data().shard_examples(), job.local_steps()));
  if (job.local_steps() > 1) {
    *response->mutable_inner_optimizer() = job.inner_optimizer();
    response->set_inner_schedule_steps(run_.InnerScheduleSteps());
  }
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::Heartbeat(grpc::CallbackServerContext* context,
                                                        const tributary::v1::HeartbeatRequest* request,
                                                        tributary::v1::HeartbeatResponse* response) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return FinishUnary(context, Reply(context, worker.status()));
  if (request->held_task_ids_size() > kMaxHeldTasks) {
    return FinishUnary(context, ToGrpcStatus(run_.RecordInvalid(
                                    *worker, absl::InvalidArgumentError(absl::StrCat(
                                                 "Heartbeat: ", request->held_task_ids_size(),
                                                 " held tasks, at most ", kMaxHeldTasks)))));
  }
  for (uint64_t task : run_.Heartbeat(*worker, request->task_id(), request->held_task_ids())) {
    response->add_revoked_task_ids(task);
  }
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* CoordinatorService::GetTask(grpc::CallbackServerContext* context,
                                                      const tributary::v1::GetTaskRequest* request,
                                                      tributary::v1::GetTaskResponse* response) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return FinishUnary(context, Reply(context, worker.status()));
  if (request->keep_task_ids_size() > kMaxKeptTasks) {
    return FinishUnary(context, ToGrpcStatus(run_.RecordInvalid(
                                    *worker, absl::InvalidArgumentError(absl::StrCat(
                                                 "GetTask: keeps ", request->keep_task_ids_size(),
                                                 " tasks, at most ", kMaxKeptTasks)))));
  }
  TaskDecision decision = run_.GetTask(*worker, request->keep_task_ids());
  if (decision.task) {
    HoldModel(decision.task->base_version(), decision.task->model_sha256());
    *response->mutable_task() = *std::move(decision.task);
  } else if (decision.job_done) {
    response->set_job_done(true);
  } else {
    response->set_retry_after_s(absl::ToDoubleSeconds(decision.retry_after));
  }
  return FinishUnary(context, grpc::Status::OK);
}

void CoordinatorService::HoldModel(uint64_t version, const std::string& sha256) {
  const std::optional<Sha256Digest> digest = DigestFromBytes(sha256);
  if (!digest || blobs_.Has(*digest)) return;
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = run_.Model(version);
  if (model.ok()) blobs_.Add(BlobKind::kModel, *digest, *model, (*model)->bytes);
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::StartDownload(grpc::CallbackServerContext* context,
                                                                   const std::string& worker,
                                                                   std::shared_ptr<const void> owner,
                                                                   absl::string_view payload,
                                                                   const Sha256Digest& sha256,
                                                                   int64_t raw_bytes, bool digest_only) {
  absl::StatusOr<uint64_t> stream = OpenStream(worker, StreamKind::kDownload, digest_only ? 0 : payload.size());
  if (!stream.ok()) return new PayloadWriter(Refuse(context, refused::kStreams, stream.status()));
  // A stream cut short counts the same share of its raw size.
  const double raw_per_byte = payload.empty() ? 0 : static_cast<double>(raw_bytes) / payload.size();
  auto* writer = new PayloadWriter(context, std::move(owner), payload, sha256, digest_only,
                                   [this, worker, raw_per_byte, id = *stream](int64_t sent) {
                                     UnregisterStream(id);
                                     run_.CountSent(worker, sent, static_cast<int64_t>(sent * raw_per_byte));
                                   });
  RegisterStream(*stream, writer);
  return writer;
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchModel(
    grpc::CallbackServerContext* context, const tributary::v1::FetchModelRequest* request) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return new PayloadWriter(Reply(context, worker.status()));
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = run_.Model(request->version());
  if (!model.ok()) return new PayloadWriter(ToGrpcStatus(model.status()));
  const ModelSnapshot& snapshot = **model;
  blobs_.Add(BlobKind::kModel, snapshot.sha256(), *model, snapshot.bytes);
  return StartDownload(context, *worker, *model, snapshot.bytes, snapshot.sha256(),
                       static_cast<int64_t>(snapshot.bytes.size()), request->digest_only());
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchModelDelta(
    grpc::CallbackServerContext* context, const tributary::v1::FetchModelDeltaRequest* request) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return new PayloadWriter(Reply(context, worker.status()));
  if (!run_.job().codec().model_deltas()) {
    return new PayloadWriter(
        ToGrpcStatus(absl::FailedPreconditionError("this job sends models whole (codec.model_deltas)")));
  }
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> to = run_.Model(request->version());
  if (!to.ok()) return new PayloadWriter(ToGrpcStatus(to.status()));
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> from = run_.Model(request->from_version());
  if (!from.ok()) return new PayloadWriter(ToGrpcStatus(from.status()));
  std::shared_ptr<const EncodedDelta> delta = deltas_.Get(
      request->from_version(), request->version(),
      [&] { return EncodeModelDelta((*to)->params(), (*from)->params()); });
  blobs_.Add(BlobKind::kDelta, delta->sha256, delta, delta->bytes);
  return StartDownload(context, *worker, delta, delta->bytes, delta->sha256,
                       static_cast<int64_t>((*to)->bytes.size()), request->digest_only());
}

grpc::ServerWriteReactor<Chunk>* CoordinatorService::FetchShard(
    grpc::CallbackServerContext* context, const tributary::v1::FetchShardRequest* request) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return new PayloadWriter(Reply(context, worker.status()));
  if (request->shard_id() >= dataset_.shards.size()) {
    return new PayloadWriter(ToGrpcStatus(run_.RecordInvalid(
        *worker, absl::InvalidArgumentError(absl::StrCat("shard ", request->shard_id(), " does not exist")))));
  }
  const Shard& shard = dataset_.shards[request->shard_id()];
  const absl::string_view bytes = dataset_.ShardBytes(shard);
  return StartDownload(context, *worker, nullptr, bytes, shard.sha256, static_cast<int64_t>(bytes.size()),
                       /*digest_only=*/false);
}

grpc::ServerReadReactor<SubmitUpdateChunk>* CoordinatorService::SubmitUpdate(
    grpc::CallbackServerContext* context, tributary::v1::SubmitUpdateResponse* response) {
  absl::StatusOr<std::string> worker = Admit(context);
  if (!worker.ok()) return new RefuseUpload(Reply(context, worker.status()));
  const size_t max_bytes = codec_.MaxEncodedBytes();
  absl::StatusOr<uint64_t> stream = OpenStream(*worker, StreamKind::kUpload, max_bytes);
  if (!stream.ok()) return new RefuseUpload(Refuse(context, refused::kStreams, stream.status()));
  auto* reader = new UpdateReader(*this, run_, context, *worker, response, max_bytes,
                                  StreamDeadline(limits_, max_bytes),
                                  [this, id = *stream] { UnregisterStream(id); });
  RegisterStream(*stream, reader);
  return reader;
}

absl::Status CoordinatorService::CheckHeader(const tributary::v1::UpdateHeader& header) const {
  const std::string where = absl::StrCat("task ", header.task_id(), ": ");
  if (header.codec() != codec_.name()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "codec \"", SafeText(header.codec()), "\", the job uses \"",
                                                   codec_.name(), "\""));
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
  return run_.Submit(worker_id, header, EncodedUpdate(codec_, payload), static_cast<int64_t>(payload.size()));
}

grpc::ServerUnaryReactor* CoordinatorService::Leave(grpc::CallbackServerContext* context,
                                                    const tributary::v1::LeaveRequest*,
                                                    tributary::v1::LeaveResponse*) {
  absl::StatusOr<std::string> worker = Admit(context, RateLimited::kNo);
  if (!worker.ok()) return FinishUnary(context, Reply(context, worker.status()));
  run_.Leave(*worker);
  return FinishUnary(context, grpc::Status::OK);
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
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // All of gRPC's buffers together, every connection's: past the quota it
  // shrinks windows and reclaims what idle connections hold instead of
  // growing with the number of workers (1,000 uploaders held ~5 GiB).
  grpc::ResourceQuota quota("tributary-coordinator");
  quota.Resize(kServerMemoryQuotaBytes);
  builder.SetResourceQuota(quota);
  // A connection that never finishes its TLS or HTTP/2 handshake is closed.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kServerHandshakeTimeoutMs);
  builder.AddListeningPort(address, std::move(credentials), &running.port);
  builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (in use?)"));
  }
  return running;
}

}  // namespace tributary::coordinator
