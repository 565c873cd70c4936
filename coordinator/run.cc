#include "coordinator/run.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/models/gpt.h"
#include "common/params.h"
#include "coordinator/identity.h"
#include "google/protobuf/util/message_differencer.h"

namespace tributary::coordinator {
namespace {

// How often an idle worker asks again while the last shards are leased.
constexpr absl::Duration kRetryWhenDrained = absl::Milliseconds(500);
// ... and while a SYNC round it has no part in is being computed: the next
// round opens the moment the last update is in, and a worker that asks
// late idles the round's slowest slot. Polling at this rate costs a
// waiting worker 40 small calls a second (limits.requests_per_s is 200).
constexpr absl::Duration kRetryWhenRoundFull = absl::Milliseconds(25);
// The status page's samples/s and tokens/s: over this window, at most a
// mark per resolution step kept.
constexpr absl::Duration kRateWindow = absl::Seconds(30);
constexpr absl::Duration kRateResolution = absl::Milliseconds(250);
// Smoothing of the reported training loss (weight of the newest update).
constexpr double kTrainLossSmoothing = 0.05;
// A history point of the training loss every this many applied updates.
constexpr int64_t kHistoryEveryUpdates = 10;
// A reported loss above this many times that of a uniform guess (ln of the
// classes) is not folded into train_loss: no model that trains is that bad,
// and one lying worker must not own the dashboard's curve. The update
// itself is judged on its own (norm, robust rules), not on this report.
constexpr double kMaxLossOverUniform = 10;

LedgerOptions MakeLedgerOptions(const tributary::v1::JobSpec& job, const Dataset& dataset) {
  LedgerOptions options;
  options.num_shards = static_cast<int>(dataset.shards.size());
  options.epochs = job.budget().epochs();
  options.lease_timeout = absl::Seconds(job.lease().lease_timeout_s());
  options.seed = job.seed();
  return options;
}

// Updates that make one model version: a buffer, or a SYNC round.
int UpdatesPerVersion(const tributary::v1::JobSpec& job) { return std::max(1, job.aggregation().buffer_size()); }

// The optimizer schedule's length under the epoch budget: one step per
// buffer of updates.
int64_t EpochScheduleSteps(const tributary::v1::JobSpec& job, const ShardLedger& ledger) {
  return ledger.counts().total / UpdatesPerVersion(job);
}

// One digest of the dataset's shards, in order.
Sha256Digest DatasetDigest(const Dataset& dataset) {
  std::string digests;
  for (const Shard& shard : dataset.shards) digests.append(shard.sha256.begin(), shard.sha256.end());
  return Sha256(digests);
}

// Whether a checkpoint of `saved` may go on as `job`: the same in all but
// how often checkpoints are written, the limits and what is monitored.
bool SameJob(tributary::v1::JobSpec saved, tributary::v1::JobSpec job) {
  saved.clear_checkpoint();
  job.clear_checkpoint();
  saved.clear_limits();
  job.clear_limits();
  saved.clear_monitoring();
  job.clear_monitoring();
  return google::protobuf::util::MessageDifferencer::Equivalent(saved, job);
}

}  // namespace

TrainingRun::TrainingRun(const tributary::v1::JobSpec& job, const Dataset& dataset,
                         std::vector<float> initial_params, Clock& clock, int aggregation_threads)
    : job_(job),
      dataset_(dataset),
      clock_(clock),
      start_(clock.Now()),
      tokens_per_example_(job.model().has_gpt() ? job.model().gpt().context() : 0),
      max_plausible_loss_(kMaxLossOverUniform *
                          std::log(job.model().has_gpt() ? GptModel::kVocab : job.model().mlp().classes())),
      ledger_(MakeLedgerOptions(job, dataset)),
      aggregator_(AggregatorOptions{job.optimizer(), job.aggregation(), EpochScheduleSteps(job, ledger_),
                                    aggregation_threads},
                  std::move(initial_params)),
      budget_(job.budget().seconds(), job.lease().lease_timeout_s(), EpochScheduleSteps(job, ledger_)),
      counters_(job.aggregation().max_staleness()),
      next_eval_version_(job.eval().interval_versions()),
      samples_rate_(kRateWindow, kRateResolution),
      tokens_rate_(kRateWindow, kRateResolution) {}

uint64_t TrainingRun::InnerScheduleSteps() {
  absl::MutexLock lock(&mu_);
  return ledger_.counts().total * static_cast<uint64_t>(job_.local_steps());
}

double TrainingRun::SecondsSinceStart(absl::Time now) const {
  return absl::ToDoubleSeconds(now - start_);
}

void TrainingRun::Tick() {
  absl::MutexLock lock(&mu_);
  TickLocked(clock_.Now());
}

void TrainingRun::TickLocked(absl::Time now) {
  const absl::Duration timeout = absl::Seconds(job_.lease().heartbeat_timeout_s());
  for (const std::string& id : registry_.MarkSilentLost(now, timeout)) {
    const std::vector<uint64_t> released = ledger_.ReleaseWorker(id);
    TLOG(WARNING) << "worker " << id << " lost (silent for over " << timeout << "); "
                  << released.size() << " lease(s) back in the queue";
  }
  for (uint64_t task : ledger_.ExpireLeases(now)) {
    TLOG(WARNING) << "task " << task << ": lease expired; shard back in the queue";
  }
  bans_.Expire(now);
  AdvanceBudget(now);
  CloseRoundOnQuorum(now);
}

bool TrainingRun::sync() const { return job_.aggregation().mode() == tributary::v1::AggregationSpec::SYNC; }

void TrainingRun::CloseRoundOnQuorum(absl::Time now) {
  const tributary::v1::AggregationSpec& agg = job_.aggregation();
  if (!sync() || agg.sync_quorum() == 0 || TrainingEnded()) return;
  const uint64_t version = aggregator_.version();
  const int updates = aggregator_.buffered();
  if (updates < agg.sync_quorum()) {
    round_quorum_since_.reset();
    return;
  }
  if (!round_quorum_since_ || round_quorum_since_->first != version) round_quorum_since_.emplace(version, now);
  if (now - round_quorum_since_->second < absl::Seconds(agg.straggler_grace_s())) return;
  // Every lease out belongs to this round (each earlier round ended so).
  const size_t stragglers = ledger_.RevokeAll().size();
  aggregator_.Flush();
  round_quorum_since_.reset();
  TLOG(INFO) << "round at version " << version << " applied with " << updates << " of "
             << agg.buffer_size() << " updates after a grace of " << agg.straggler_grace_s() << " s; "
             << stragglers << " straggler(s) revoked, their shards back in the queue";
}

void TrainingRun::AdvanceBudget(absl::Time now) {
  if (!budget_.enabled() || ledger_.finished()) return;
  const int64_t leased = ledger_.counts().leased;
  const bool was_leasing = budget_.leasing();
  const BudgetEvent event = budget_.Advance(SecondsSinceStart(now), aggregator_.version(), leased);
  aggregator_.set_total_steps(budget_.schedule_steps());
  // With no lease out at the deadline, it ends the training at once
  // (kEnded, no kDeadline): say that the time is up either way.
  if (was_leasing && !budget_.leasing()) {
    TLOG(INFO) << "time budget of " << budget_.seconds() << " s spent at version " << aggregator_.version()
               << ": no new tasks; " << leased << " task(s) in flight may still submit for "
               << job_.lease().lease_timeout_s() << " s";
  }
  if (event != BudgetEvent::kEnded) return;
  const size_t released = ledger_.RevokeAll().size();
  aggregator_.Flush();
  const EpochProgress epochs = CountEpochProgress(ledger_.items(), static_cast<int64_t>(dataset_.shards.size()));
  TLOG(INFO) << "training ended by its time budget at version " << aggregator_.version() << ": "
             << epochs.complete_epochs << " whole epoch(s), every shard once, and " << epochs.partial_epoch_shards
             << " shard(s) of a partial one; " << released << " unfinished lease(s) released";
}

void TrainingRun::ReleaseAll(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) ledger_.ReleaseWorker(id);
}

absl::StatusOr<std::string> TrainingRun::Join(const WorkerInfo& info, const std::string& session_token) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  TickLocked(now);
  if (std::optional<Ban> ban = bans_.Find(info.identity, now)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "banned until ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ban->until, absl::UTCTimeZone()), ": ",
        ban->reason));
  }
  const int limit = job_.limits().max_sessions_per_identity();
  if (registry_.ActiveSessions(info.identity) >= limit) {
    return absl::ResourceExhaustedError(absl::StrCat(SafeText(info.identity), " already holds ", limit,
                                                     " sessions (limits.max_sessions_per_identity)"));
  }
  const WorkerRecord& worker = registry_.Add(info, session_token, now);
  counters_.CountJoin();
  TLOG(INFO) << "worker " << worker.id << " joined: name=" << worker.name << " device=" << worker.device
             << " threads=" << worker.threads
             << " identity=" << SafeText(worker.identity, 80);
  return worker.id;
}

int TrainingRun::EndRevokedSessions(const std::function<bool(absl::string_view token_name)>& admitted) {
  absl::MutexLock lock(&mu_);
  const std::vector<std::string> ended = registry_.EndIf(
      [&](const WorkerRecord& worker) { return !admitted(TokenNameOf(worker.identity)); }, WorkerState::kLeft);
  ReleaseAll(ended);
  for (const std::string& id : ended) TLOG(WARNING) << "worker " << id << ": join token revoked; session ended";
  return static_cast<int>(ended.size());
}

bool TrainingRun::LiftBan(absl::string_view identity) {
  absl::MutexLock lock(&mu_);
  if (!bans_.Lift(identity)) return false;
  ++ban_changes_;
  return true;
}

void TrainingRun::CountRefused(absl::string_view reason) {
  absl::MutexLock lock(&requests_mu_);
  ++refused_by_reason_[std::string(reason)];
}

void TrainingRun::RecordSubmitLatency(absl::Duration total, absl::Duration apply) {
  absl::MutexLock lock(&requests_mu_);
  submit_seconds_.Observe(absl::ToDoubleSeconds(total));
  submit_apply_seconds_.Observe(absl::ToDoubleSeconds(apply));
}

absl::StatusOr<std::string> TrainingRun::Authenticate(const std::string& session_token) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  TickLocked(now);
  WorkerRecord* worker = registry_.FindActiveBySession(session_token);
  if (worker == nullptr) {
    return absl::UnauthenticatedError("unknown or expired session; join again");
  }
  registry_.Touch(*worker, now);
  return worker->id;
}

std::vector<uint64_t> TrainingRun::Heartbeat(const std::string& worker_id, uint64_t current_task,
                                             absl::Span<const uint64_t> held) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return {};
  worker->current_task = current_task;
  ledger_.Renew(worker_id, now);
  std::vector<uint64_t> named(held.begin(), held.end());
  named.push_back(current_task);
  std::vector<uint64_t> revoked;
  for (uint64_t task : named) {
    if (task != 0 && !ledger_.HoldsLease(task, worker_id) &&
        std::find(revoked.begin(), revoked.end(), task) == revoked.end()) {
      revoked.push_back(task);
    }
  }
  return revoked;
}

std::shared_ptr<const ModelSnapshot> TrainingRun::CurrentSnapshot() {
  const uint64_t version = aggregator_.version();
  if (!snapshots_.empty() && snapshots_.rbegin()->first == version) {
    return snapshots_.rbegin()->second;
  }
  auto snapshot = std::make_shared<const ModelSnapshot>(version, aggregator_.params());
  snapshots_[version] = snapshot;
  // Versions older than the staleness bound can no longer yield an accepted update.
  const uint64_t bound = job_.aggregation().max_staleness();
  if (version > bound) snapshots_.erase(snapshots_.begin(), snapshots_.lower_bound(version - bound));
  return snapshot;
}

TaskDecision TrainingRun::GetTask(const std::string& worker_id, absl::Span<const uint64_t> keep) {
  TaskDecision decision;
  std::shared_ptr<const ModelSnapshot> model;
  {
    absl::MutexLock lock(&mu_);
    decision = GetTaskLocked(worker_id, keep);
    if (decision.task) model = CurrentSnapshot();
  }
  // Hashing the weights takes a while: once per version, never under the lock.
  if (decision.task) decision.task->set_model_sha256(DigestBytes(model->sha256()));
  return decision;
}

TaskDecision TrainingRun::GetTaskLocked(const std::string& worker_id, absl::Span<const uint64_t> keep) {
  const absl::Time now = clock_.Now();
  TickLocked(now);
  TaskDecision decision;
  if (ledger_.finished()) {
    decision.job_done = true;
    return decision;
  }
  ledger_.ReleaseWorkerExcept(worker_id, keep);
  if (!budget_.leasing()) {
    decision.job_done = true;
    return decision;
  }
  if (sync()) {
    // A round has buffer_size tasks, at most one per worker at a time: a
    // worker leasing ahead would otherwise take a slot and compute two of
    // them while another waits.
    bool holds = false;  // A loop, not a lambda: the analysis sees mu_ held here.
    for (uint64_t task : keep) holds = holds || ledger_.HoldsLease(task, worker_id);
    if (holds || aggregator_.buffered() + ledger_.counts().leased >= UpdatesPerVersion(job_)) {
      decision.retry_after = kRetryWhenRoundFull;
      return decision;
    }
  }
  std::optional<Lease> lease = ledger_.LeaseNext(worker_id, aggregator_.version(), now);
  if (!lease) {
    decision.retry_after = kRetryWhenDrained;
    return decision;
  }
  std::shared_ptr<const ModelSnapshot> model = CurrentSnapshot();
  const Shard& shard = dataset_.shards[lease->shard];
  tributary::v1::Task& task = decision.task.emplace();
  task.set_task_id(lease->task_id);
  task.set_shard_id(lease->shard);
  task.set_epoch(lease->epoch);
  task.set_shard_sha256(DigestBytes(shard.sha256));
  task.set_shard_bytes(shard.bytes);
  task.set_shard_examples(shard.examples);
  task.set_base_version(model->version);
  task.set_model_bytes(model->bytes.size());
  // A task's local steps continue the run's inner schedule where the model
  // it starts from stands: a version stands for the UpdatesPerVersion
  // tasks that made it, H steps each (InnerScheduleSteps).
  const int local_steps = job_.local_steps();
  const uint64_t steps_per_version = static_cast<uint64_t>(UpdatesPerVersion(job_)) * local_steps;
  task.set_local_steps(local_steps);
  task.set_batch_examples((shard.examples + local_steps - 1) / local_steps);
  task.set_schedule_step(model->version * steps_per_version);
  if (budget_.enabled()) task.set_schedule_total_steps(budget_.schedule_steps() * steps_per_version);
  task.set_lease_deadline_unix_s(absl::ToDoubleSeconds(lease->deadline - absl::UnixEpoch()));
  return decision;
}

uint64_t TrainingRun::version() {
  absl::MutexLock lock(&mu_);
  return aggregator_.version();
}

int TrainingRun::ActiveWorkers() {
  absl::MutexLock lock(&mu_);
  return registry_.active();
}

RunProgress TrainingRun::Progress() {
  absl::MutexLock lock(&mu_);
  return RunProgress{aggregator_.version(), counters_.updates_applied(), done_, ban_changes_};
}

tributary::v1::Checkpoint TrainingRun::MakeCheckpoint() {
  std::shared_ptr<const ModelSnapshot> model;
  tributary::v1::Checkpoint checkpoint;
  tributary::v1::RunState& state = *checkpoint.mutable_run();
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    model = CurrentSnapshot();
    checkpoint.set_tokens_processed(counters_.tokens_processed());
    checkpoint.set_samples_processed(counters_.samples_processed());
    *state.mutable_aggregator() = aggregator_.SaveState();
    *state.mutable_ledger() = ledger_.SaveState();
    registry_.SaveState(state);
    bans_.SaveState(state);
    *state.mutable_counters() = SaveCounters();
    for (const HistoryPoint& point : history_.points()) {
      tributary::v1::HistoryEntry& entry = *state.add_history();
      entry.set_version(point.version);
      entry.set_time_s(point.time_s);
      entry.set_samples_processed(point.samples_processed);
      if (point.train_loss) entry.set_train_loss(*point.train_loss);
      if (point.eval_loss) entry.set_eval_loss(*point.eval_loss);
    }
    state.set_elapsed_s(SecondsSinceStart(now));
    checkpoint.set_written_unix_s(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
  }
  // The weights are copied outside the lock: snapshots are immutable.
  *checkpoint.mutable_job() = job_;
  checkpoint.set_model_version(model->version);
  checkpoint.set_params(model->bytes);
  state.set_dataset_sha256(DigestBytes(DatasetDigest(dataset_)));
  return checkpoint;
}

tributary::v1::RunCounters TrainingRun::SaveCounters() const {
  tributary::v1::RunCounters saved = counters_.proto();
  saved.set_next_eval_version(next_eval_version_);
  saved.set_done(done_);
  absl::MutexLock lock(&requests_mu_);
  saved.mutable_refused_by_reason()->insert(refused_by_reason_.begin(), refused_by_reason_.end());
  return saved;
}

absl::Status TrainingRun::Restore(const tributary::v1::Checkpoint& checkpoint) {
  if (!checkpoint.has_run()) {
    return absl::FailedPreconditionError("the checkpoint has weights only (written before resuming existed)");
  }
  if (!SameJob(checkpoint.job(), job_)) {
    return absl::FailedPreconditionError(absl::StrCat("the checkpoint is of another job (\"",
                                                      checkpoint.job().name(), "\" with other settings)"));
  }
  const tributary::v1::RunState& state = checkpoint.run();
  if (state.dataset_sha256() != DigestBytes(DatasetDigest(dataset_))) {
    return absl::FailedPreconditionError("the dataset changed since the checkpoint (its shards' digests differ)");
  }
  absl::MutexLock lock(&mu_);
  if (state.aggregator().version() != checkpoint.model_version() || !std::isfinite(state.elapsed_s()) ||
      state.elapsed_s() < 0) {
    return absl::InvalidArgumentError("the checkpoint's counters do not fit its job");
  }
  absl::StatusOr<Counters> counters = Counters::Restore(state.counters(), job_.aggregation().max_staleness());
  if (!counters.ok()) return counters.status();
  absl::StatusOr<ShardLedger> ledger = ShardLedger::Restore(MakeLedgerOptions(job_, dataset_), state.ledger());
  if (!ledger.ok()) return ledger.status();
  absl::StatusOr<std::vector<float>> params =
      FloatsFromBytes(checkpoint.params(), aggregator_.params().size(), "weights");
  if (!params.ok()) return params.status();

  WorkerRegistry registry;
  if (absl::Status s = registry.RestoreState(state); !s.ok()) return s;
  BanList bans;
  if (absl::Status s = bans.RestoreState(state); !s.ok()) return s;
  // The aggregator's restore is the last that can fail; it changes nothing when it does.
  if (absl::Status s = aggregator_.RestoreState(*std::move(params), state.aggregator()); !s.ok()) return s;
  ledger_ = *std::move(ledger);
  registry_ = std::move(registry);
  bans_ = std::move(bans);
  counters_ = *std::move(counters);
  next_eval_version_ = state.counters().next_eval_version();
  done_ = state.counters().done();
  {
    absl::MutexLock requests_lock(&requests_mu_);
    refused_by_reason_ = std::map<std::string, int64_t>(state.counters().refused_by_reason().begin(),
                                                        state.counters().refused_by_reason().end());
  }
  std::vector<HistoryPoint> history;
  for (const tributary::v1::HistoryEntry& entry : state.history()) {
    HistoryPoint& point = history.emplace_back();
    point.version = entry.version();
    point.time_s = entry.time_s();
    point.samples_processed = entry.samples_processed();
    if (entry.has_train_loss()) point.train_loss = entry.train_loss();
    if (entry.has_eval_loss()) point.eval_loss = entry.eval_loss();
  }
  history_.Assign(std::move(history));
  samples_rate_ = RateWindow(kRateWindow, kRateResolution);
  tokens_rate_ = RateWindow(kRateWindow, kRateResolution);
  snapshots_.clear();
  eval_in_flight_ = false;
  start_ = clock_.Now() - absl::Seconds(state.elapsed_s());
  budget_.Resume(state.elapsed_s(), aggregator_.version());
  aggregator_.set_total_steps(budget_.schedule_steps());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> TrainingRun::Model(uint64_t version) {
  absl::MutexLock lock(&mu_);
  if (version == aggregator_.version()) return CurrentSnapshot();
  auto it = snapshots_.find(version);
  if (it == snapshots_.end()) {
    return absl::NotFoundError(absl::StrCat("model version ", version, " is no longer served"));
  }
  return it->second;
}

void TrainingRun::CountRejected(WorkerRecord& worker, const std::string& reason) {
  counters_.CountRejected(reason);
  ++worker.updates_rejected;
  ++worker.rejected_by_reason[reason];
}

absl::StatusOr<SubmitResult> TrainingRun::Submit(const std::string& worker_id,
                                                 const tributary::v1::UpdateHeader& header,
                                                 absl::Span<const float> update,
                                                 int64_t wire_bytes) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  TickLocked(now);
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return absl::UnauthenticatedError("unknown worker");
  worker->bytes_received_wire += wire_bytes;
  worker->bytes_received_raw += update.size() * sizeof(float);
  counters_.CountReceived(wire_bytes, update.size() * sizeof(float));

  const uint64_t task_id = header.task_id();
  absl::StatusOr<bool> live = ledger_.CheckLive(task_id, worker_id, now);
  if (!live.ok() || *live) RecordTime(*worker, header);
  if (!live.ok()) {
    CountRejected(*worker, "lease");
    return live.status();
  }
  if (!*live) return SubmitResult{false, aggregator_.version()};
  const WorkItem& item = *ledger_.Find(task_id);
  const absl::Time leased_at = item.leased_at;
  // A pipelining worker computes on the newest model it has, which may be
  // newer than the lease's; never on one older, nor on one not made yet.
  if (header.base_version() < item.base_version || header.base_version() > aggregator_.version() ||
      header.epoch() != item.epoch || header.shard_id() != item.shard) {
    CountRejected(*worker, "invalid");
    return absl::InvalidArgumentError(absl::StrCat(
        "task ", task_id, ": an update from version ", header.base_version(), " for epoch ", header.epoch(),
        " shard ", header.shard_id(), ", but the lease is version ", item.base_version, " (now ",
        aggregator_.version(), ") epoch ", item.epoch, " shard ", item.shard));
  }
  if (absl::Status claims = CheckClaims(header, item); !claims.ok()) {
    CountRejected(*worker, "invalid");
    return claims;
  }
  absl::StatusOr<Accepted> accepted = aggregator_.Apply(update, header.base_version(), worker_id);
  if (!accepted.ok()) {
    ledger_.Abandon(task_id);
    const absl::Status& error = accepted.status();
    CountRejected(*worker, absl::IsAborted(error) ? "stale" : absl::IsOutOfRange(error) ? "norm" : "invalid");
    return absl::Status(error.code(), absl::StrCat("task ", task_id, ": ", error.message()));
  }
  worker->staleness_last = accepted->staleness;
  worker->staleness_sum += accepted->staleness;
  ledger_.Complete(task_id);
  // The last updates of the budget do not wait for a buffer to fill.
  if (ledger_.finished() && aggregator_.Flush()) accepted->version = aggregator_.version();
  counters_.CountApplied(accepted->staleness, header.examples(), header.examples() * tokens_per_example_);
  ++worker->updates_accepted;
  ++worker->tasks_done;
  samples_rate_.Record(now, counters_.samples_processed());
  tokens_rate_.Record(now, counters_.tokens_processed());
  task_seconds_.Observe(absl::ToDoubleSeconds(now - leased_at));
  if (header.loss() <= max_plausible_loss_) {
    counters_.SmoothTrainLoss(header.loss(), kTrainLossSmoothing);
  }
  if (counters_.updates_applied() % kHistoryEveryUpdates == 0) {
    history_.Append({accepted->version, SecondsSinceStart(now), counters_.samples_processed(),
                     counters_.train_loss(), std::nullopt});
  }
  // Every version a reply names can be fetched while it is within the
  // staleness bound: a pipelining worker asks for it next.
  CurrentSnapshot();
  CloseRoundOnQuorum(now);
  return SubmitResult{true, accepted->version};
}

void TrainingRun::RecordTime(WorkerRecord& worker, const tributary::v1::UpdateHeader& header) {
  if (!header.has_time()) return;  // A worker that does not report.
  if (!CheckTimeBudget(header.time()).ok()) {
    CountRefused("time_budget");
    return;
  }
  AddTimeBudget(header.time(), worker.time);
  worker.recent_time.Add(header.time());
  counters_.AddTime(header.time());
}

absl::Status TrainingRun::CheckClaims(const tributary::v1::UpdateHeader& header, const WorkItem& item) const {
  const uint64_t shard_examples = dataset_.shards[item.shard].examples;
  if (header.examples() == 0 || header.examples() > shard_examples) {
    return absl::InvalidArgumentError(absl::StrCat("task ", header.task_id(), ": claims ", header.examples(),
                                                   " examples of a shard of ", shard_examples));
  }
  return absl::OkStatus();
}

absl::Status TrainingRun::RecordInvalid(const std::string& worker_id, const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return error;
  CountRejected(*worker, "invalid");
  if (worker->state != WorkerState::kActive ||
      !registry_.RecordInvalid(*worker, job_.lease().max_invalid_requests())) {
    return error;
  }
  const std::string identity = worker->identity;
  const std::string reason = SafeText(error.message(), 200);
  const int64_t invalid = worker->invalid_requests;
  const absl::Time until = clock_.Now() + absl::Seconds(job_.limits().ban_duration_s());
  bans_.Add(identity, reason, until);
  ++ban_changes_;
  counters_.CountBan();
  const std::vector<std::string> ended = registry_.EndIf(
      [&identity](const WorkerRecord& w) { return w.identity == identity; }, WorkerState::kBanned);
  ReleaseAll(ended);
  TLOG(WARNING) << "worker " << worker_id << " (" << SafeText(identity, 80) << ") banned for "
                << job_.limits().ban_duration_s() << " s after " << invalid << " invalid requests; "
                << ended.size() << " session(s) ended; last: " << reason;
  return absl::PermissionDeniedError(absl::StrCat(error.message(), " (banned)"));
}

void TrainingRun::Leave(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr || worker->state != WorkerState::kActive) return;
  registry_.End(*worker, WorkerState::kLeft);
  const std::vector<uint64_t> released = ledger_.ReleaseWorker(worker_id);
  TLOG(INFO) << "worker " << worker_id << " left; " << released.size() << " lease(s) released";
}

void TrainingRun::CountSent(const std::string& worker_id, int64_t wire_bytes, int64_t raw_bytes) {
  absl::MutexLock lock(&mu_);
  counters_.CountSent(wire_bytes, raw_bytes);
  if (WorkerRecord* worker = registry_.Find(worker_id)) worker->bytes_sent_wire += wire_bytes;
}

bool TrainingRun::EvalDue() const {
  if (eval_in_flight_ || done_) return false;
  return TrainingEnded() || aggregator_.version() >= next_eval_version_;
}

std::optional<EvalRequest> TrainingRun::WaitForEval(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &TrainingRun::EvalDue), timeout)) {
    return std::nullopt;
  }
  eval_in_flight_ = true;
  return EvalRequest{CurrentSnapshot(), TrainingEnded(), counters_.samples_processed()};
}

void TrainingRun::RecordEval(const EvalRequest& request, const LossStats& stats) {
  absl::MutexLock lock(&mu_);
  eval_in_flight_ = false;
  counters_.RecordEval(stats);
  next_eval_version_ = request.model->version + job_.eval().interval_versions();
  history_.Append({request.model->version, SecondsSinceStart(clock_.Now()), request.samples_processed,
                   counters_.train_loss(), stats.mean_loss()});
  TLOG(INFO) << "eval at version " << request.model->version << ": loss " << stats.mean_loss()
             << (job_.model().has_mlp() ? absl::StrCat(" accuracy ", stats.accuracy()) : "")
             << (request.final ? " (final)" : "");
  if (request.final) done_ = true;
}

bool TrainingRun::WaitUntilDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &TrainingRun::Done), timeout);
}

RunStatus TrainingRun::Status() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  RunStatus s;
  s.job = job_.name();
  s.done = done_;
  s.model_version = aggregator_.version();
  s.updates_applied = counters_.updates_applied();
  s.updates_rejected = counters_.proto().updates_rejected();
  s.rejected_by_reason = counters_.rejected_by_reason();
  s.staleness_histogram = counters_.staleness_histogram();
  s.buffered_updates = aggregator_.buffered();
  s.sync = sync();
  s.updates_per_version = UpdatesPerVersion(job_);
  s.samples_processed = counters_.samples_processed();
  s.tokens_processed = counters_.tokens_processed();
  s.rates = {samples_rate_.PerSecond(now).value_or(0), tokens_rate_.PerSecond(now).value_or(0)};
  s.rates_window_s = absl::ToDoubleSeconds(kRateWindow);
  s.train_loss = counters_.train_loss();
  if (std::optional<LossStats> eval = counters_.last_eval()) {
    s.eval_loss = eval->mean_loss();
    if (job_.model().has_mlp()) s.eval_accuracy = eval->accuracy();
  }
  s.uptime_s = SecondsSinceStart(now);
  s.epochs = job_.budget().epochs();
  s.budget = BudgetStatusAt(now);
  s.shards = ledger_.counts();
  s.tasks = ledger_.lease_counts();
  s.joins = counters_.proto().joins();
  s.bans_total = counters_.proto().bans();
  s.task_seconds = task_seconds_;
  s.per_worker_metrics = job_.monitoring().per_worker_metrics();
  s.bytes_received_wire = counters_.proto().bytes_received_wire();
  s.bytes_received_raw = counters_.proto().bytes_received_raw();
  s.bytes_sent_wire = counters_.proto().bytes_sent_wire();
  s.bytes_sent_raw = counters_.proto().bytes_sent_raw();
  s.now = now;
  for (const WorkerRecord* worker : registry_.All()) s.workers.push_back(*worker);
  s.forgotten_workers = registry_.forgotten();
  s.bans = bans_.Active(now);
  s.time = counters_.proto().time();
  {
    absl::MutexLock requests_lock(&requests_mu_);
    s.refused_by_reason = refused_by_reason_;
    s.submit_seconds = submit_seconds_;
    s.submit_apply_seconds = submit_apply_seconds_;
  }
  return s;
}

BudgetStatus TrainingRun::BudgetStatusAt(absl::Time now) const {
  BudgetStatus s;
  if (budget_.enabled()) s.seconds = budget_.seconds();
  s.remaining_s = budget_.remaining_s(SecondsSinceStart(now));
  s.ended_by = ledger_.finished() ? "epochs" : budget_.ended() ? "time" : "";
  s.epochs = CountEpochProgress(ledger_.items(), static_cast<int64_t>(dataset_.shards.size()));
  s.schedule_steps = budget_.schedule_steps();
  return s;
}

std::vector<HistoryPoint> TrainingRun::History() {
  absl::MutexLock lock(&mu_);
  return history_.points();
}

std::vector<WorkItem> TrainingRun::LedgerItems() {
  absl::MutexLock lock(&mu_);
  return ledger_.items();
}

}  // namespace tributary::coordinator
