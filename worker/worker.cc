#include "worker/worker.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/model_delta.h"
#include "common/log.h"
#include "common/models/model.h"

namespace tributary::worker {
namespace {

constexpr absl::Duration kBackoffInitial = absl::Milliseconds(500);
constexpr absl::Duration kBackoffMax = absl::Seconds(30);
constexpr size_t kShardCacheBytes = size_t{512} << 20;
// Model versions kept in --cache_dir: a restarted worker (or one whose
// coordinator resumed from a checkpoint) may find its first model there.
constexpr size_t kModelFilesOnDisk = 4;
constexpr absl::Duration kProgressInterval = absl::Seconds(1);
constexpr absl::Duration kConnectSlice = absl::Milliseconds(250);

// Errors that mean the coordinator is (for now) out of reach.
bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s) ||
         absl::IsUnknown(s) || absl::IsInternal(s) || absl::IsResourceExhausted(s);
}

// "2.3 s": what a person waiting at the terminal wants to read.
std::string InSeconds(absl::Duration d) { return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d)); }

}  // namespace

Worker::Worker(const WorkerOptions& options, CoordinatorClient& client)
    : options_(options),
      client_(client),
      backoff_(kBackoffInitial, kBackoffMax, options.seed),
      shards_(options.cache_dir, kShardCacheBytes),
      models_(options.cache_dir.empty() ? "" : options.cache_dir + "/models", /*memory_budget_bytes=*/0,
              kModelFilesOnDisk),
      progress_(options.terminal, kProgressInterval),
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
  const absl::Time end = absl::Now() + timeout;
  // In slices, so Stop() is heard within one.
  while (!stopped() && absl::Now() < end) {
    if (client_.WaitForConnection(std::min(kConnectSlice, end - absl::Now()))) return;
  }
}

bool Worker::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
}

absl::Status Worker::Run() {
  std::thread heartbeats([this] { HeartbeatLoop(); });
  absl::Status result;
  while (result.ok() && !stopped()) {
    if (!joined_) {
      result = JoinWithRetries();
      continue;
    }
    if (NextTask() == Outcome::kJobDone) {
      TLOG(INFO) << "the job is done; this worker did " << tasks_done_ << " task(s)";
      break;
    } else if (options_.max_tasks > 0 && tasks_done_ >= options_.max_tasks) {
      TLOG(INFO) << "done " << tasks_done_ << " task(s), as --max_tasks asked";
      break;
    }
  }
  Stop();
  heartbeats.join();
  if (joined_) {
    const absl::Status left = client_.Leave();
    TLOG(INFO) << (left.ok() ? "left the coordinator" : absl::StrCat("leave failed: ", left.message()));
  }
  return result;
}

absl::Status Worker::JoinWithRetries() {
  tributary::v1::JoinRequest request;
  request.set_join_token(options_.join_token);
  request.set_name(options_.name);
  request.set_device(options_.device);
  request.set_threads(options_.threads);
  while (!stopped()) {
    absl::StatusOr<tributary::v1::JoinResponse> joined = client_.Join(request);
    if (!joined.ok()) {
      if (!IsTransient(joined.status())) {
        return absl::Status(joined.status().code(),
                            absl::StrCat("the coordinator refused to let us join: ", joined.status().message()));
      }
      const absl::Duration delay = RetryDelay(joined.status());
      TLOG(WARNING) << "coordinator " << options_.coordinator
                    << (absl::IsResourceExhausted(joined.status()) ? " busy (" : " unreachable (")
                    << joined.status().message() << "); retrying in " << InSeconds(delay);
      SleepUnlessStopped(delay);
      continue;
    }
    absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(joined->model());
    if (!model.ok()) return model.status();
    if (!(joined->worker_momentum() >= 0 && joined->worker_momentum() < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the coordinator asks for worker_momentum ", joined->worker_momentum(), ", want [0, 1)"));
    }
    trainer_ = std::make_unique<Trainer>(*std::move(model), joined->inner_optimizer(),
                                         joined->inner_schedule_steps(), joined->worker_momentum());
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
    delta_base_ = {};  // Versions of another coordinator's run mean other weights.
    joined_ = true;
    session_lost_ = false;
    backoff_.Reset();
    {
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = absl::Seconds(joined->heartbeat_interval_s());
      heartbeats_on_ = true;
    }
    TLOG(INFO) << "joined " << options_.coordinator << " as " << joined->worker_id() << " for job \""
               << joined->job_name() << "\" (" << trainer_->model().layout().size() << " parameters)";
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
  if (absl::IsUnauthenticated(error)) {
    TLOG(WARNING) << during << ": session no longer valid (" << error.message() << "); joining again";
    joined_ = false;
    absl::MutexLock lock(&mu_);
    heartbeats_on_ = false;
  } else if (std::optional<absl::Duration> hint = RetryHint(error)) {
    TLOG(WARNING) << during << ": the coordinator asks us to slow down (" << error.message() << "); waiting "
                  << InSeconds(*hint);
    SleepUnlessStopped(*hint);
  } else if (IsTransient(error)) {
    const absl::Duration delay = backoff_.Next();
    TLOG(WARNING) << during << ": coordinator unreachable (" << error.message() << "); retrying in "
                  << InSeconds(delay) << " or as soon as it answers";
    WaitForCoordinator(delay);
  } else {
    // The coordinator refused this one piece of work (stale, lease expired,
    // bad payload); the next task may well be fine.
    TLOG(WARNING) << during << ": " << error;
  }
}

Worker::Outcome Worker::NextTask() {
  if (session_lost_) {
    Recover(absl::UnauthenticatedError("heartbeat refused"), "heartbeat");
    return Outcome::kContinue;
  }
  absl::StatusOr<tributary::v1::GetTaskResponse> response = client_.GetTask();
  if (!response.ok()) {
    Recover(response.status(), "GetTask");
    return Outcome::kContinue;
  }
  switch (response->result_case()) {
    case tributary::v1::GetTaskResponse::kJobDone:
      return Outcome::kJobDone;
    case tributary::v1::GetTaskResponse::kTask: {
      const uint64_t id = response->task().task_id();
      if (absl::Status s = RunTask(response->task()); !s.ok()) Recover(s, absl::StrCat("task ", id));
      return Outcome::kContinue;
    }
    case tributary::v1::GetTaskResponse::kRetryAfterS:
    case tributary::v1::GetTaskResponse::RESULT_NOT_SET:
      SleepUnlessStopped(absl::Seconds(response->retry_after_s()));
      return Outcome::kContinue;
  }
  return Outcome::kContinue;
}

absl::StatusOr<std::shared_ptr<const std::string>> Worker::Payload(
    const std::string& what, const std::string& sha256, PayloadCache& cache,
    const std::function<absl::StatusOr<std::string>()>& fetch) {
  Sha256Digest digest{};
  if (sha256.size() != digest.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": malformed digest"));
  }
  std::copy(sha256.begin(), sha256.end(), digest.begin());
  if (auto cached = cache.Get(digest)) return cached;
  absl::StatusOr<std::string> fetched = fetch();
  if (!fetched.ok()) {
    return Prefixed(absl::StrCat(what, ": "), fetched.status());
  }
  auto payload = std::make_shared<const std::string>(*std::move(fetched));
  cache.Put(digest, payload, /*persist=*/true);
  return payload;
}

absl::StatusOr<std::shared_ptr<const std::string>> Worker::ModelFor(const tributary::v1::Task& task) {
  const std::string what = absl::StrCat("model v", task.base_version());
  if (model_deltas_ && delta_base_.bytes != nullptr && delta_base_.version != task.base_version() &&
      delta_base_.bytes->size() == task.model_bytes()) {
    const auto base = absl::MakeConstSpan(reinterpret_cast<const float*>(delta_base_.bytes->data()),
                                          delta_base_.bytes->size() / sizeof(float));
    absl::StatusOr<std::string> delta =
        client_.FetchModelDelta(task.base_version(), delta_base_.version, ModelDeltaBytes(base.size()));
    if (delta.ok()) {
      auto model = std::make_shared<std::string>(delta_base_.bytes->size(), '\0');
      const absl::Status applied =
          ApplyModelDelta(*delta, base, absl::MakeSpan(reinterpret_cast<float*>(model->data()), base.size()));
      if (applied.ok()) return model;
      TLOG(WARNING) << what << ": " << applied.message() << "; downloading it whole";
    } else if (!absl::IsNotFound(delta.status())) {
      return Prefixed(absl::StrCat(what, " (delta): "), delta.status());
    }
  }
  absl::StatusOr<std::shared_ptr<const std::string>> model =
      Payload(what, task.model_sha256(), models_,
              [&] { return client_.FetchModel(task.base_version(), task.model_sha256(), task.model_bytes()); });
  if (model.ok()) delta_base_ = {task.base_version(), *model};
  return model;
}

absl::Status Worker::RunTask(const tributary::v1::Task& task) {
  current_task_ = task.task_id();
  revoked_task_ = 0;
  absl::StatusOr<std::shared_ptr<const std::string>> shard =
      Payload(absl::StrCat("shard ", task.shard_id()), task.shard_sha256(), shards_,
              [&] { return client_.FetchShard(task.shard_id(), task.shard_sha256(), task.shard_bytes()); });
  if (!shard.ok()) return shard.status();
  absl::StatusOr<std::shared_ptr<const std::string>> model = ModelFor(task);
  if (!model.ok()) return model.status();

  const absl::Time start = absl::Now();
  const auto params = absl::MakeConstSpan(reinterpret_cast<const float*>((*model)->data()),
                                          (*model)->size() / sizeof(float));
  update_.resize(trainer_->model().layout().size());
  absl::StatusOr<LossStats> stats = trainer_->ComputeUpdate(task, params, **shard, absl::MakeSpan(update_));
  if (!stats.ok()) return stats.status();
  const absl::Duration compute = absl::Now() - start;
  attacker_.Corrupt(absl::MakeSpan(update_));
  if (options_.task_delay > absl::ZeroDuration()) SleepUnlessStopped(options_.task_delay);
  if (stopped()) return absl::OkStatus();
  if (revoked_task_ == task.task_id()) {
    TLOG(WARNING) << "task " << task.task_id() << ": the coordinator revoked it; dropping the update";
    return absl::OkStatus();
  }

  tributary::v1::UpdateHeader header;
  header.set_task_id(task.task_id());
  header.set_base_version(task.base_version());
  header.set_epoch(task.epoch());
  header.set_shard_id(task.shard_id());
  header.set_codec(std::string(codec_->name()));
  const std::string payload = encoder_->Encode(update_);
  header.set_encoded_bytes(payload.size());
  header.set_loss(static_cast<float>(stats->mean_loss()));
  header.set_examples(stats->examples);
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> submitted = client_.SubmitUpdate(header, payload);
  current_task_ = 0;
  if (!submitted.ok()) return submitted.status();
  ++tasks_done_;
  backoff_.Reset();
  TaskReport report;
  report.task_id = task.task_id();
  report.shard_id = task.shard_id();
  report.epoch = task.epoch();
  report.loss = stats->mean_loss();
  report.examples = stats->examples;
  report.compute = compute;
  report.sent_bytes = payload.size();
  report.base_version = task.base_version();
  report.new_version = submitted->model_version();
  report.applied = submitted->applied();
  if (std::optional<std::string> line = progress_.TaskDone(report, absl::Now())) TLOG(INFO) << *line;
  return absl::OkStatus();
}

void Worker::HeartbeatLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stop_), heartbeat_interval_)) return;
      if (!heartbeats_on_) continue;
    }
    absl::StatusOr<tributary::v1::HeartbeatResponse> response = client_.Heartbeat(current_task_);
    if (!response.ok()) {
      if (absl::IsUnauthenticated(response.status())) session_lost_ = true;
      continue;
    }
    for (uint64_t task : response->revoked_task_ids()) {
      if (task == current_task_) revoked_task_ = task;
    }
  }
}

}  // namespace tributary::worker
