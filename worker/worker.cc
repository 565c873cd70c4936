#include "worker/worker.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/model_delta.h"
#include "common/log.h"
#include "common/models/model.h"
#include "worker/timeouts.h"

namespace tributary::worker {
namespace {

constexpr size_t kShardCacheBytes = size_t{512} << 20;
// Model versions kept in --cache_dir: a restarted worker (or one whose
// coordinator resumed from a checkpoint) may find its first model there.
constexpr size_t kModelFilesOnDisk = 4;
constexpr absl::Duration kConnectSlice = absl::Milliseconds(250);

// Errors that mean the coordinator is (for now) out of reach.
bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s) ||
         absl::IsUnknown(s) || absl::IsInternal(s) || absl::IsResourceExhausted(s);
}

// "2.3 s": what a person waiting at the terminal wants to read.
std::string InSeconds(absl::Duration d) { return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d)); }

template <typename T>
bool IsReady(const std::future<T>& f) {
  return f.valid() && f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::shared_ptr<const std::string> Shared(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace

Worker::Worker(const WorkerOptions& options, CoordinatorApi& client, Timer& timer, Display& display)
    : options_(options),
      client_(client),
      timer_(timer),
      display_(display),
      backoff_(kBackoffInitial, kBackoffMax, options.seed),
      shards_(options.cache_dir, kShardCacheBytes),
      models_(options.cache_dir.empty() ? "" : options.cache_dir + "/models", /*memory_budget_bytes=*/0,
              kModelFilesOnDisk),
      phases_(timer.Now()),
      attacker_(options.attack) {}

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

bool Worker::stopped() {
  absl::MutexLock lock(&mu_);
  return stop_;
}

void Worker::WaitForCoordinator(absl::Duration timeout) {
  const absl::Time end = timer_.Now() + timeout;
  // In slices, so Stop() is heard within one.
  while (!stopped() && timer_.Now() < end) {
    if (client_.WaitForConnection(std::min(kConnectSlice, end - timer_.Now()))) return;
  }
}

bool Worker::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return timer_.AwaitWithTimeout(mu_, absl::Condition(&stop_), d);
}

absl::Duration Worker::Throttle(absl::Duration compute, absl::Duration cpu) {
  const absl::Duration wait = options_.task_delay + SlowdownWait(options_.slowdown, compute, cpu);
  if (wait <= absl::ZeroDuration()) return absl::ZeroDuration();
  const absl::Time start = timer_.Now();
  SleepUnlessStopped(wait);
  return timer_.Now() - start;
}

absl::Span<const float> Worker::Global::params() const {
  if (bytes == nullptr) return {};
  return absl::MakeConstSpan(reinterpret_cast<const float*>(bytes->data()), bytes->size() / sizeof(float));
}

absl::Status Worker::Run() {
  std::thread heartbeats([this] { HeartbeatLoop(); });
  absl::Status result;
  std::string ending = "stopped";
  while (result.ok() && !stopped()) {
    if (!joined_) {
      result = JoinWithRetries();
      continue;
    }
    if (NextTask() == Outcome::kJobDone) {
      ending = "the job is done";
      break;
    } else if (options_.max_tasks > 0 && tasks_done_ >= options_.max_tasks) {
      ending = "done, as --max_tasks asked";
      break;
    }
  }
  if (joined_ && !stopped()) {
    if (absl::Status s = FinishRound(); !s.ok()) TLOG(WARNING) << "the last update: " << s;
  }
  Stop();
  DrainPipeline();
  heartbeats.join();
  if (joined_) {
    const absl::Status left = client_.Leave();
    TLOG(INFO) << (left.ok() ? "left the coordinator" : absl::StrCat("leave failed: ", left.message()));
  }
  // The status line's last state stays on screen; the summary goes below it.
  display_.SetActivity(ending);
  display_.Finish();
  TLOG(NOTICE) << ending << "; this worker did " << summary_.Line();
  return result;
}

absl::Status Worker::JoinWithRetries() {
  ScopedPhase phase(phases_, timer_, Phase::kOther);
  DrainPipeline();
  tributary::v1::JoinRequest request;
  request.set_join_token(options_.join_token);
  request.set_name(options_.name);
  request.set_device(options_.device);
  request.set_threads(options_.threads);
  display_.SetActivity(absl::StrCat("joining ", options_.coordinator));
  while (!stopped()) {
    absl::StatusOr<tributary::v1::JoinResponse> joined = client_.Join(request);
    if (!joined.ok()) {
      if (!IsTransient(joined.status())) {
        return absl::Status(joined.status().code(),
                            absl::StrCat("the coordinator refused to let us join: ", joined.status().message()));
      }
      const absl::Duration delay = RetryDelay(joined.status());
      const bool busy = absl::IsResourceExhausted(joined.status());
      if (busy ? display_.Busy(timer_.Now() + delay) : display_.Unreachable(timer_.Now() + delay)) {
        TLOG(WARNING) << "coordinator " << options_.coordinator << (busy ? " busy (" : " unreachable (")
                      << joined.status().message() << "); retrying in " << InSeconds(delay);
      }
      SleepUnlessStopped(delay);
      continue;
    }
    display_.Joined(joined->model());
    if (joined->max_batch_examples() == 0) {
      return absl::FailedPreconditionError(
          "the coordinator does not say how large its batches are (max_batch_examples); it is older than this worker");
    }
    absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(
        joined->model(), {static_cast<int>(std::min<uint32_t>(joined->max_batch_examples(), kMaxBatchExamples + 1)),
                          options_.threads});
    if (!model.ok()) return model.status();
    if (!(joined->worker_momentum() >= 0 && joined->worker_momentum() < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the coordinator asks for worker_momentum ", joined->worker_momentum(), ", want [0, 1)"));
    }
    trainer_ = std::make_unique<Trainer>(*std::move(model), joined->inner_optimizer(),
                                         joined->inner_schedule_steps(), joined->worker_momentum());
    trainer_->set_step_hook([this](int64_t done, int64_t steps, const LossStats& step) {
      display_.StepDone(done, steps, step);
    });
    // Rejoining the same job (a restarted coordinator) keeps the encoder, so
    // its error-feedback residual and PowerSGD factors carry on.
    std::string encoder_key = joined->model().SerializeAsString() + joined->codec().SerializeAsString();
    if (encoder_ == nullptr || encoder_key != encoder_key_) {
      absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(joined->codec(), trainer_->model().layout());
      if (!codec.ok()) return codec.status();
      encoder_.reset();
      codec_ = *std::move(codec);
      encoder_ = NewWorkerEncoder(*codec_, joined->codec());
      encoder_key_ = std::move(encoder_key);
    }
    model_deltas_ = joined->codec().model_deltas();
    overlap_ = joined->overlap();
    // Versions of another coordinator's run mean other weights.
    delta_base_ = {};
    anchor_ = {};
    newest_version_ = 0;
    joined_ = true;
    session_lost_ = false;
    backoff_.Reset();
    {
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = absl::Seconds(joined->heartbeat_interval_s());
      heartbeats_on_ = true;
      held_.clear();
      revoked_.clear();
    }
    TLOG(INFO) << "joined " << options_.coordinator << " as " << joined->worker_id() << " for job \""
               << joined->job_name() << "\" (" << trainer_->model().layout().size() << " parameters"
               << (overlap_ ? ", overlapped local steps" : "") << ")";
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Duration Worker::RetryDelay(const absl::Status& error) {
  const absl::Duration backoff = backoff_.Next();
  std::optional<absl::Duration> hint = RetryHint(error);
  return hint ? std::max(*hint, backoff) : backoff;
}

void Worker::Recover(const absl::Status& error, absl::string_view during) {
  ScopedPhase phase(phases_, timer_, Phase::kOther);
  if (absl::IsUnauthenticated(error)) {
    TLOG(WARNING) << during << ": session no longer valid (" << error.message() << "); joining again";
    joined_ = false;
    absl::MutexLock lock(&mu_);
    heartbeats_on_ = false;
  } else if (std::optional<absl::Duration> hint = RetryHint(error)) {
    TLOG(WARNING) << during << ": the coordinator asks us to slow down (" << error.message() << "); waiting "
                  << InSeconds(*hint);
    SleepUnlessStopped(*hint);
  } else if (absl::IsResourceExhausted(error)) {
    // Over a limit without a hint (too many streams open): the coordinator
    // answered, so waiting for a connection would return at once and the
    // loop would retry at once (seen: 20 retries in 4 ms). Back off instead.
    const absl::Duration delay = backoff_.Next();
    if (display_.Busy(timer_.Now() + delay)) {
      TLOG(WARNING) << during << ": coordinator busy (" << error.message() << "); retrying in " << InSeconds(delay);
    }
    SleepUnlessStopped(delay);
  } else if (IsTransient(error)) {
    const absl::Duration delay = backoff_.Next();
    if (display_.Unreachable(timer_.Now() + delay)) {
      TLOG(WARNING) << during << ": coordinator unreachable (" << error.message() << "); retrying in "
                    << InSeconds(delay) << " or as soon as it answers";
    }
    WaitForCoordinator(delay);
  } else {
    // The coordinator refused this one piece of work (stale, lease expired,
    // bad payload); the next task may well be fine.
    TLOG(WARNING) << during << ": " << error;
  }
}

void Worker::Hold(uint64_t task_id) {
  absl::MutexLock lock(&mu_);
  held_.insert(task_id);
}

void Worker::Release(uint64_t task_id) {
  absl::MutexLock lock(&mu_);
  held_.erase(task_id);
  revoked_.erase(task_id);
}

bool Worker::Revoked(uint64_t task_id) {
  absl::MutexLock lock(&mu_);
  return revoked_.contains(task_id);
}

absl::StatusOr<Worker::Fetched> Worker::FetchTask(std::vector<uint64_t> keep) {
  Fetched fetched;
  absl::StatusOr<tributary::v1::GetTaskResponse> response = client_.GetTask(keep);
  if (!response.ok()) return response.status();
  fetched.answered = timer_.Now();
  display_.Reachable();
  fetched.response = *std::move(response);
  if (!fetched.response.has_task()) return fetched;
  const tributary::v1::Task& task = fetched.response.task();
  Hold(task.task_id());
  const absl::Time start = timer_.Now();
  absl::MutexLock lock(&shards_mu_);
  absl::StatusOr<std::shared_ptr<const std::string>> shard =
      Payload(absl::StrCat("shard ", task.shard_id()), task.shard_sha256(), shards_,
              [&] { return client_.FetchShard(task.shard_id(), task.shard_sha256(), task.shard_bytes()); });
  phases_.AddDownloadTransfer(timer_.Now() - start);
  if (!shard.ok()) {
    Release(task.task_id());
    return shard.status();
  }
  fetched.shard = *std::move(shard);
  return fetched;
}

std::vector<uint64_t> Worker::InFlight() const {
  if (round_) return {round_->task.task_id()};
  return {};
}

void Worker::StartLookahead(const tributary::v1::Task& task) {
  std::vector<uint64_t> keep = InFlight();
  keep.push_back(task.task_id());
  lookahead_ = std::async(std::launch::async, [this, keep] { return FetchTask(keep); });
}

void Worker::DrainPipeline() {
  if (lookahead_.valid()) {
    absl::StatusOr<Fetched> dropped = lookahead_.get();
    if (dropped.ok() && dropped->response.has_task()) Release(dropped->response.task().task_id());
  }
  if (round_) {
    round_->result.wait();
    Release(round_->task.task_id());
    round_.reset();
  }
  anchor_ = {};
}

Worker::Outcome Worker::NextTask() {
  if (session_lost_) {
    Recover(absl::UnauthenticatedError("heartbeat refused"), "heartbeat");
    return Outcome::kContinue;
  }
  // --max_tasks counts the update in flight: no task beyond it.
  const int64_t committed = tasks_done_ + (round_ ? 1 : 0);
  if (options_.max_tasks > 0 && committed >= options_.max_tasks) {
    if (absl::Status s = FinishRound(); !s.ok()) Recover(s, "the last update");
    return Outcome::kContinue;
  }
  absl::StatusOr<Fetched> fetched;
  {
    ScopedPhase phase(phases_, timer_, Phase::kWaitTask);
    display_.SetActivity("waiting for a task");
    if (lookahead_.valid()) {
      fetched = lookahead_.get();
      // An answer without a task is stale by now (the run moved on while
      // the last task computed): ask again.
      if (fetched.ok() && !fetched->response.has_task()) fetched = FetchTask(InFlight());
    } else {
      fetched = FetchTask(InFlight());
    }
  }
  if (!fetched.ok()) {
    Recover(fetched.status(), "GetTask");
    return Outcome::kContinue;
  }
  switch (fetched->response.result_case()) {
    case tributary::v1::GetTaskResponse::kJobDone:
      if (absl::Status s = FinishRound(); !s.ok()) Recover(s, "the last update");
      return Outcome::kJobDone;
    case tributary::v1::GetTaskResponse::kTask:
      break;
    case tributary::v1::GetTaskResponse::kRetryAfterS:
    case tributary::v1::GetTaskResponse::RESULT_NOT_SET: {
      // Nothing to hand out: the round in flight may be what the run waits for.
      if (absl::Status s = FinishRound(); !s.ok()) Recover(s, "update");
      ScopedPhase phase(phases_, timer_, Phase::kWaitTask);
      SleepUnlessStopped(absl::Seconds(fetched->response.retry_after_s()));
      return Outcome::kContinue;
    }
  }
  const tributary::v1::Task& task = fetched->response.task();
  const uint64_t id = task.task_id();
  if (Revoked(id)) {
    TLOG(WARNING) << "task " << id << ": the coordinator revoked it before it started";
    Release(id);
    return Outcome::kContinue;
  }
  if (options_.max_tasks == 0 || committed + 1 < options_.max_tasks) StartLookahead(task);
  display_.TaskStarted(task, fetched->answered);
  absl::Status s = overlap_ && task.local_steps() > 1 ? RunOverlapped(task, *fetched->shard)
                                                      : RunTask(task, *fetched->shard);
  display_.TaskEnded(id);
  if (!s.ok()) {
    // A task that failed (its model no longer served, a bad shard, ...) is
    // given up: it must leave the held set too, or every such failure
    // grows what heartbeats name until the coordinator refuses them as
    // invalid (kMaxHeldTasks) and bans the identity (the soak saw it).
    Release(id);
    Recover(s, absl::StrCat("task ", id));
  }
  return Outcome::kContinue;
}

absl::StatusOr<std::shared_ptr<const std::string>> Worker::Payload(
    const std::string& what, const std::string& sha256, PayloadCache& cache,
    const std::function<absl::StatusOr<std::string>()>& fetch) {
  const std::optional<Sha256Digest> digest = DigestFromBytes(sha256);
  if (!digest) return absl::InvalidArgumentError(absl::StrCat(what, ": malformed digest"));
  if (auto cached = cache.Get(*digest)) return cached;
  const absl::Time start = timer_.Now();
  absl::StatusOr<std::string> fetched = fetch();
  if (!fetched.ok()) {
    return Prefixed(absl::StrCat(what, ": "), fetched.status());
  }
  LogDownload(what, fetched->size(), start);
  auto payload = Shared(*std::move(fetched));
  cache.Put(*digest, payload, /*persist=*/true);
  return payload;
}

absl::StatusOr<std::shared_ptr<const std::string>> Worker::FetchModel(uint64_t version,
                                                                     const std::string& sha256) {
  const std::string what = absl::StrCat("model v", version);
  const uint64_t bytes = trainer_->model().layout().size() * sizeof(float);
  const absl::Time start = timer_.Now();
  absl::Cleanup count = [&] { phases_.AddDownloadTransfer(timer_.Now() - start); };
  if (model_deltas_ && delta_base_.bytes != nullptr && delta_base_.version != version &&
      delta_base_.bytes->size() == bytes) {
    const absl::Span<const float> base = delta_base_.params();
    absl::StatusOr<std::string> delta =
        client_.FetchModelDelta(version, delta_base_.version, ModelDeltaBytes(base.size()));
    if (delta.ok()) {
      auto model = std::make_shared<std::string>(bytes, '\0');
      const absl::Status applied =
          ApplyModelDelta(*delta, base, absl::MakeSpan(reinterpret_cast<float*>(model->data()), base.size()));
      LogDownload(absl::StrCat(what, " (delta from v", delta_base_.version, ")"), delta->size(), start);
      if (applied.ok()) return model;
      TLOG(WARNING) << what << ": " << applied.message() << "; downloading it whole";
    } else if (!absl::IsNotFound(delta.status())) {
      return Prefixed(absl::StrCat(what, " (delta): "), delta.status());
    }
  }
  absl::StatusOr<std::shared_ptr<const std::string>> model;
  if (sha256.empty()) {
    absl::StatusOr<std::string> fetched = client_.FetchModel(version, "", bytes);
    if (!fetched.ok()) return Prefixed(absl::StrCat(what, ": "), fetched.status());
    LogDownload(what, fetched->size(), start);
    if (fetched->size() != bytes) return absl::DataLossError(absl::StrCat(what, ": ", fetched->size(), " bytes"));
    model = Shared(*std::move(fetched));
  } else {
    model = Payload(what, sha256, models_, [&] { return client_.FetchModel(version, sha256, bytes); });
  }
  if (model.ok()) delta_base_ = {version, *model};
  return model;
}

absl::StatusOr<Worker::Global> Worker::ModelFor(const tributary::v1::Task& task) {
  ScopedPhase phase(phases_, timer_, Phase::kDownload);
  if (newest_version_ > task.base_version()) {
    absl::StatusOr<std::shared_ptr<const std::string>> newest = FetchModel(newest_version_, "");
    if (newest.ok()) return Global{newest_version_, *std::move(newest)};
    if (!absl::IsNotFound(newest.status())) return newest.status();
  }
  absl::StatusOr<std::shared_ptr<const std::string>> model = FetchModel(task.base_version(), task.model_sha256());
  if (!model.ok()) return model.status();
  if ((*model)->size() != task.model_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("model v", task.base_version(), ": ", (*model)->size(),
                                                   " bytes, the task says ", task.model_bytes()));
  }
  return Global{task.base_version(), *std::move(model)};
}

absl::StatusOr<tributary::v1::SubmitUpdateResponse> Worker::Submit(const tributary::v1::UpdateHeader& header,
                                                                    const std::string& payload,
                                                                    absl::Duration* upload) {
  display_.UploadStarted(static_cast<int64_t>(payload.size()));
  absl::Cleanup ended = [this] { display_.UploadEnded(); };
  return client_.SubmitUpdate(header, payload, upload, [this](int64_t sent) { display_.UploadProgress(sent); });
}

void Worker::LogDownload(absl::string_view what, size_t bytes, absl::Time start) {
  if (!display_.verbose()) return;
  TLOG(INFO) << what << ": downloaded "
             << (bytes < 10240 ? absl::StrCat(bytes, " bytes") : absl::StrCat(bytes / 1024, " KiB")) << " in "
             << absl::StrFormat("%.0f ms", absl::ToDoubleMilliseconds(timer_.Now() - start));
}

tributary::v1::UpdateHeader Worker::HeaderFor(const tributary::v1::Task& task, uint64_t base_version,
                                              const LossStats& stats) {
  tributary::v1::UpdateHeader header;
  header.set_task_id(task.task_id());
  header.set_base_version(base_version);
  header.set_epoch(task.epoch());
  header.set_shard_id(task.shard_id());
  header.set_codec(std::string(codec_->name()));
  header.set_loss(static_cast<float>(stats.mean_loss()));
  header.set_examples(stats.examples);
  *header.mutable_time() = phases_.Take(timer_.Now());
  return header;
}

void Worker::ReportDone(const tributary::v1::Task& task, uint64_t base_version, const LossStats& stats,
                        absl::Duration compute, int64_t sent_bytes,
                        const tributary::v1::SubmitUpdateResponse& reply, const tributary::v1::TimeBudget& budget) {
  ++tasks_done_;
  backoff_.Reset();
  display_.TaskDone(reply.model_version());
  newest_version_ = std::max(newest_version_, reply.model_version());
  TaskReport report;
  report.task_id = task.task_id();
  report.shard_id = task.shard_id();
  report.epoch = task.epoch();
  report.loss = stats.mean_loss();
  report.examples = stats.examples;
  report.compute = compute;
  report.sent_bytes = sent_bytes;
  report.base_version = base_version;
  report.new_version = reply.model_version();
  report.applied = reply.applied();
  report.budget = FormatBudget(budget);
  summary_.Add(report);
  if (display_.task_lines()) TLOG(INFO) << TaskLine(report);
}

absl::Status Worker::RunTask(const tributary::v1::Task& task, const std::string& shard) {
  absl::StatusOr<Global> model = ModelFor(task);
  if (!model.ok()) return model.status();
  current_task_ = task.task_id();
  absl::Cleanup idle = [this, &task] {
    current_task_ = 0;
    Release(task.task_id());
  };
  phases_.Enter(Phase::kCompute, timer_.Now());
  const absl::Time start = timer_.Now();
  const absl::Duration cpu_start = ProcessCpuTime();
  update_.resize(trainer_->model().layout().size());
  absl::StatusOr<LossStats> stats = trainer_->ComputeUpdate(task, model->params(), shard, absl::MakeSpan(update_));
  if (!stats.ok()) return stats.status();
  attacker_.Corrupt(absl::MakeSpan(update_));
  Throttle(timer_.Now() - start, ProcessCpuTime() - cpu_start);
  const absl::Duration compute = timer_.Now() - start;
  if (stopped()) return absl::OkStatus();
  if (Revoked(task.task_id())) {
    TLOG(WARNING) << "task " << task.task_id() << ": the coordinator revoked it; dropping the update";
    return absl::OkStatus();
  }

  phases_.Enter(Phase::kEncode, timer_.Now());
  const std::string payload = encoder_->Encode(update_);
  tributary::v1::UpdateHeader header = HeaderFor(task, model->version, *stats);
  header.set_encoded_bytes(payload.size());
  const absl::Time sent = timer_.Now();
  phases_.Enter(Phase::kUpload, sent);
  absl::Duration upload = absl::ZeroDuration();
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> submitted = Submit(header, payload, &upload);
  // The payload had left after `upload`; the rest was the coordinator's apply.
  phases_.Enter(Phase::kWaitApply, sent + upload);
  phases_.Enter(Phase::kOther, timer_.Now());
  phases_.AddUploadTransfer(upload);
  if (!submitted.ok()) return submitted.status();
  ReportDone(task, model->version, *stats, compute, payload.size(), *submitted, header.time());
  return absl::OkStatus();
}

absl::Status Worker::RunOverlapped(const tributary::v1::Task& task, const std::string& shard) {
  if (absl::Status s = trainer_->CheckTask(task, shard); !s.ok()) return s;
  if (anchor_.bytes == nullptr) {
    // The first task since joining (or since a round failed): start from
    // the newest model.
    absl::StatusOr<Global> model = ModelFor(task);
    if (!model.ok()) return model.status();
    anchor_ = *std::move(model);
    trainer_->Begin(anchor_.params());
  }
  current_task_ = task.task_id();
  absl::Cleanup idle = [this] { current_task_ = 0; };
  absl::Duration compute = absl::ZeroDuration(), cpu = absl::ZeroDuration();
  LossStats stats;
  const int64_t steps = trainer_->Steps(task, shard);
  for (int64_t i = 0; i < steps; ++i) {
    if (stopped()) return absl::OkStatus();
    if (Revoked(task.task_id())) return DropSteps(task);
    if (round_ && IsReady(round_->result)) {
      if (absl::Status s = SettleRound(); !s.ok()) {
        Release(task.task_id());
        return s;
      }
    }
    phases_.Enter(Phase::kCompute, timer_.Now());
    const absl::Time step_start = timer_.Now();
    const absl::Duration cpu_start = ProcessCpuTime();
    absl::StatusOr<LossStats> step = trainer_->Step(task, i, shard);
    if (!step.ok()) {
      Release(task.task_id());
      return step.status();
    }
    stats += *step;
    compute += timer_.Now() - step_start;
    cpu += ProcessCpuTime() - cpu_start;
  }
  phases_.Enter(Phase::kCompute, timer_.Now());
  compute += Throttle(compute, cpu);
  // This task's update is measured from the model the round brings.
  if (absl::Status s = FinishRound(); !s.ok()) {
    Release(task.task_id());
    return s;
  }
  // The wait for the round (and the throttle) may have outlived the lease.
  if (Revoked(task.task_id())) return DropSteps(task);
  phases_.Enter(Phase::kEncode, timer_.Now());
  update_.resize(trainer_->model().layout().size());
  trainer_->PseudoGradient(anchor_.params(), absl::MakeSpan(update_));
  attacker_.Corrupt(absl::MakeSpan(update_));
  tributary::v1::UpdateHeader header = HeaderFor(task, anchor_.version, stats);
  Round& round = round_.emplace();
  round.task = task;
  round.base_version = anchor_.version;
  round.stats = stats;
  round.compute = compute;
  round.budget = header.time();
  round.sent.assign(trainer_->local().begin(), trainer_->local().end());
  // The round owns its update: the next task's steps go on meanwhile.
  round.result = std::async(std::launch::async, [this, header, update = update_]() mutable
                            -> absl::StatusOr<RoundResult> {
    RoundResult result;
    const std::string payload = encoder_->Encode(update);
    header.set_encoded_bytes(payload.size());
    result.sent_bytes = static_cast<int64_t>(payload.size());
    absl::Duration upload = absl::ZeroDuration();
    absl::StatusOr<tributary::v1::SubmitUpdateResponse> reply = Submit(header, payload, &upload);
    phases_.AddUploadTransfer(upload);
    if (!reply.ok()) return reply.status();
    result.reply = *std::move(reply);
    absl::StatusOr<std::shared_ptr<const std::string>> model = FetchModel(result.reply.model_version(), "");
    if (model.ok()) {
      result.global = {result.reply.model_version(), *std::move(model)};
    } else {
      result.model_error = model.status();
    }
    return result;
  });
  phases_.Enter(Phase::kOther, timer_.Now());
  return absl::OkStatus();
}

absl::Status Worker::DropSteps(const tributary::v1::Task& task) {
  // The progress since the anchor (or since the round's send) is all this
  // task's.
  TLOG(WARNING) << "task " << task.task_id() << ": the coordinator revoked it; dropping its steps";
  trainer_->Begin(round_ ? absl::MakeConstSpan(round_->sent) : anchor_.params());
  Release(task.task_id());
  return absl::OkStatus();
}

absl::Status Worker::SettleRound() {
  Round round = *std::move(round_);
  round_.reset();
  Release(round.task.task_id());
  absl::StatusOr<RoundResult> result = round.result.get();
  if (!result.ok()) {
    // The update did not make it (or its model did not): what the round's
    // task contributed is lost, and the local weights have no anchor.
    // Start over from the coordinator's model with the next task.
    anchor_ = {};
    return result.status();
  }
  ReportDone(round.task, round.base_version, round.stats, round.compute, result->sent_bytes, result->reply,
             round.budget);
  if (!result->model_error.ok()) {
    // Applied, but the model after it could not be fetched: the local
    // weights have no anchor to rebase onto.
    anchor_ = {};
    return Prefixed(absl::StrCat("task ", round.task.task_id(), " applied; "), result->model_error);
  }
  trainer_->Rebase(result->global.params(), round.sent);
  anchor_ = result->global;
  return absl::OkStatus();
}

absl::Status Worker::FinishRound() {
  if (!round_) return absl::OkStatus();
  ScopedPhase phase(phases_, timer_, Phase::kWaitApply);
  round_->result.wait();
  return SettleRound();
}

void Worker::HeartbeatLoop() {
  while (true) {
    std::vector<uint64_t> held;
    {
      absl::MutexLock lock(&mu_);
      if (timer_.AwaitWithTimeout(mu_, absl::Condition(&stop_), heartbeat_interval_)) return;
      if (!heartbeats_on_) continue;
      held.assign(held_.begin(), held_.end());
    }
    const absl::Time sent = timer_.Now();
    absl::StatusOr<tributary::v1::HeartbeatResponse> response = client_.Heartbeat(current_task_, held);
    if (!response.ok()) {
      if (absl::IsUnauthenticated(response.status())) {
        // No more heartbeats on a dead session; the loop joins again.
        session_lost_ = true;
        absl::MutexLock lock(&mu_);
        heartbeats_on_ = false;
      }
      continue;
    }
    display_.LeasesRenewed(sent);
    absl::MutexLock lock(&mu_);
    for (uint64_t task : response->revoked_task_ids()) {
      if (held_.contains(task)) revoked_.insert(task);
    }
  }
}

}  // namespace tributary::worker
