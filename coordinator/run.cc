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
#include "coordinator/reasons.h"
#include "coordinator/task_builder.h"
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
// buffer of updates, of epochs x shards.
int64_t EpochScheduleSteps(const tributary::v1::JobSpec& job, const Dataset& dataset) {
  return static_cast<int64_t>(dataset.shards.size()) * job.budget().epochs() / UpdatesPerVersion(job);
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
      num_params_(initial_params.size()),
      aggregator_(AggregatorOptions{job.optimizer(), job.aggregation(), EpochScheduleSteps(job, dataset),
                                    aggregation_threads},
                  std::move(initial_params)),
      snapshots_(job.aggregation().max_staleness()),
      ledger_(MakeLedgerOptions(job, dataset)),
      budget_(job.budget().seconds(), job.lease().lease_timeout_s(), EpochScheduleSteps(job, dataset)),
      counters_(job.aggregation().max_staleness()),
      eval_(job.eval().interval_versions()),
      samples_rate_(kRateWindow, kRateResolution),
      tokens_rate_(kRateWindow, kRateResolution) {
  snapshots_.Publish(std::make_shared<const ModelSnapshot>(0, aggregator_.params()));
}

uint64_t TrainingRun::InnerScheduleSteps() {
  absl::MutexLock lock(&mu_);
  return ledger_.counts().total * static_cast<uint64_t>(job_.local_steps());
}

double TrainingRun::SecondsSinceStart(absl::Time now) const {
  return absl::ToDoubleSeconds(now - start_);
}

bool TrainingRun::TickAndCheckFlush() {
  absl::MutexLock lock(&mu_);
  TickLocked(clock_.Now());
  return flush_due_;
}

void TrainingRun::Tick() {
  if (TickAndCheckFlush()) {
    absl::MutexLock apply_lock(&apply_mu_);
    FlushIfDue();
  }
}

std::shared_ptr<const ModelSnapshot> TrainingRun::SnapshotIfNew(uint64_t published) {
  if (aggregator_.version() == published) return nullptr;
  if (fence_) fence_(aggregator_.version());
  auto snapshot = std::make_shared<const ModelSnapshot>(aggregator_.version(), aggregator_.params());
  // Hashed here, on the applier's thread, before anyone is told of it:
  // the GetTask that first names a version would otherwise hash it (about
  // 7 ms for the flagship GPT) while its worker waits.
  snapshot->sha256();
  return snapshot;
}

void TrainingRun::PublishLocked(std::shared_ptr<const ModelSnapshot> fresh) {
  if (fresh) snapshots_.Publish(std::move(fresh));
  version_ = aggregator_.version();
  buffered_ = aggregator_.buffered();
}

void TrainingRun::FlushIfDue() {
  uint64_t published;
  int64_t total_steps;
  {
    absl::MutexLock lock(&mu_);
    if (!flush_due_) return;
    published = version_;
    total_steps = budget_.schedule_steps();
  }
  aggregator_.set_total_steps(total_steps);
  aggregator_.Flush();
  std::shared_ptr<const ModelSnapshot> fresh = SnapshotIfNew(published);
  absl::MutexLock lock(&mu_);
  PublishLocked(std::move(fresh));
  flush_due_ = false;  // Only now: until the new version is served, GetTask leases nothing.
}

void TrainingRun::TickWithoutWaiting() {
  if (TickAndCheckFlush()) TryFlushIfDue();
}

void TrainingRun::TryFlushIfDue() {
  if (!apply_mu_.TryLock()) return;  // A submit is applying; it flushes when it ends.
  FlushIfDue();
  apply_mu_.Unlock();
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
  if (!sync() || agg.sync_quorum() == 0 || TrainingEnded() || flush_due_) return;
  const uint64_t version = version_;
  const int updates = buffered_;
  if (updates < agg.sync_quorum()) {
    round_quorum_since_.reset();
    return;
  }
  if (!round_quorum_since_ || round_quorum_since_->first != version) round_quorum_since_.emplace(version, now);
  if (now - round_quorum_since_->second < absl::Seconds(agg.straggler_grace_s())) return;
  // Every lease out belongs to this round (each earlier round ended so).
  const size_t stragglers = ledger_.RevokeAll().size();
  flush_due_ = true;
  round_quorum_since_.reset();
  TLOG(INFO) << "round at version " << version << " closed with " << updates << " of "
             << agg.buffer_size() << " updates after a grace of " << agg.straggler_grace_s() << " s; "
             << stragglers << " straggler(s) revoked, their shards back in the queue";
}

void TrainingRun::AdvanceBudget(absl::Time now) {
  if (!budget_.enabled() || ledger_.finished()) return;
  const int64_t leased = ledger_.counts().leased;
  const bool was_leasing = budget_.leasing();
  const BudgetEvent event = budget_.Advance(SecondsSinceStart(now), version_, leased);
  // With no lease out at the deadline, it ends the training at once
  // (kEnded, no kDeadline): say that the time is up either way.
  if (was_leasing && !budget_.leasing()) {
    TLOG(INFO) << "time budget of " << budget_.seconds() << " s spent at version " << version_
               << ": no new tasks; " << leased << " task(s) in flight may still submit for "
               << job_.lease().lease_timeout_s() << " s";
  }
  if (event != BudgetEvent::kEnded) return;
  const size_t released = ledger_.RevokeAll().size();
  flush_due_ = true;  // The partly filled buffer, applied as it is.
  const EpochProgress epochs = CountEpochProgress(ledger_.items(), static_cast<int64_t>(dataset_.shards.size()));
  TLOG(INFO) << "training ended by its time budget at version " << version_ << ": "
             << epochs.complete_epochs << " whole epoch(s), every shard once, and " << epochs.partial_epoch_shards
             << " shard(s) of a partial one; " << released << " unfinished lease(s) released";
}

void TrainingRun::ReleaseAll(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) ledger_.ReleaseWorker(id);
}

absl::StatusOr<std::string> TrainingRun::Join(const WorkerInfo& info, const std::string& session_token) {
  TickWithoutWaiting();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
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
  TickWithoutWaiting();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
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

TaskDecision TrainingRun::GetTask(const std::string& worker_id, absl::Span<const uint64_t> keep) {
  TickWithoutWaiting();
  TaskDecision decision;
  std::shared_ptr<const ModelSnapshot> model;
  {
    absl::MutexLock lock(&mu_);
    decision = GetTaskLocked(worker_id, keep);
    if (decision.task) model = snapshots_.current();
  }
  // Outside the lock: the applier hashed the version as it made it, but the
  // first (and a restored) version is hashed by whoever asks first.
  if (decision.task) decision.task->set_model_sha256(DigestBytes(model->sha256()));
  return decision;
}

TaskDecision TrainingRun::GetTaskLocked(const std::string& worker_id, absl::Span<const uint64_t> keep) {
  const absl::Time now = clock_.Now();
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
  if (flush_due_) {
    // A round's last buffer is being applied: its next round starts from it.
    decision.retry_after = kRetryWhenRoundFull;
    return decision;
  }
  if (sync()) {
    // A round has buffer_size tasks, at most one per worker at a time: a
    // worker leasing ahead would otherwise take a slot and compute two of
    // them while another waits.
    bool holds = false;  // A loop, not a lambda: the analysis sees mu_ held here.
    for (uint64_t task : keep) holds = holds || ledger_.HoldsLease(task, worker_id);
    if (holds || buffered_ + ledger_.counts().leased >= UpdatesPerVersion(job_)) {
      decision.retry_after = kRetryWhenRoundFull;
      return decision;
    }
  }
  std::optional<Lease> lease = ledger_.LeaseNext(worker_id, version_, now);
  if (!lease) {
    decision.retry_after = kRetryWhenDrained;
    return decision;
  }
  const ModelSnapshot& model = *snapshots_.current();
  TaskSchedule schedule;
  schedule.local_steps = job_.local_steps();
  schedule.updates_per_version = UpdatesPerVersion(job_);
  if (budget_.enabled()) schedule.total_versions = budget_.schedule_steps();
  decision.task = BuildTask(*lease, dataset_.shards[lease->shard], model.version, model.bytes.size(), schedule);
  return decision;
}

uint64_t TrainingRun::version() {
  absl::MutexLock lock(&mu_);
  return version_;
}

int TrainingRun::ActiveWorkers() {
  absl::MutexLock lock(&mu_);
  return registry_.active();
}

RunProgress TrainingRun::Progress() {
  absl::MutexLock lock(&mu_);
  return RunProgress{version_, counters_.updates_applied(), eval_.done(), ban_changes_};
}

tributary::v1::Checkpoint TrainingRun::MakeCheckpoint() {
  std::shared_ptr<const ModelSnapshot> model;
  tributary::v1::Checkpoint checkpoint;
  tributary::v1::RunState& state = *checkpoint.mutable_run();
  // Holding apply_mu_, no submit is between its commit in the ledger and
  // its weights: the two agree. A flush asked for is done first (it is
  // not part of what a checkpoint records).
  {
    absl::MutexLock apply_lock(&apply_mu_);
    FlushIfDue();
    *state.mutable_aggregator() = aggregator_.SaveState();  // Copies the buffer: outside mu_.
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    model = snapshots_.current();
    checkpoint.set_tokens_processed(counters_.tokens_processed());
    checkpoint.set_samples_processed(counters_.samples_processed());
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
  // The weights are copied outside the locks: snapshots are immutable.
  *checkpoint.mutable_job() = job_;
  checkpoint.set_model_version(model->version);
  checkpoint.set_params(model->bytes);
  state.set_dataset_sha256(DigestBytes(DatasetDigest(dataset_)));
  return checkpoint;
}

tributary::v1::RunCounters TrainingRun::SaveCounters() const {
  tributary::v1::RunCounters saved = counters_.proto();
  saved.set_next_eval_version(eval_.next_version());
  saved.set_done(eval_.done());
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
  absl::MutexLock apply_lock(&apply_mu_);
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
  eval_ = EvalSchedule(job_.eval().interval_versions(), state.counters().next_eval_version(),
                       state.counters().done());
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
  snapshots_.Clear();
  flush_due_ = false;
  applying_ = false;
  PublishLocked(std::make_shared<const ModelSnapshot>(aggregator_.version(), aggregator_.params()));
  start_ = clock_.Now() - absl::Seconds(state.elapsed_s());
  budget_.Resume(state.elapsed_s(), aggregator_.version());
  aggregator_.set_total_steps(budget_.schedule_steps());
  return absl::OkStatus();
}

void TrainingRun::SetVersionFence(VersionFence fence) {
  absl::MutexLock apply_lock(&apply_mu_);
  fence_ = std::move(fence);
}

void TrainingRun::ContinueAfter(uint64_t version) {
  absl::MutexLock apply_lock(&apply_mu_);
  const uint64_t published = aggregator_.version();
  if (version <= published) return;
  aggregator_.SkipTo(version + 1);
  std::shared_ptr<const ModelSnapshot> fresh = SnapshotIfNew(published);
  absl::MutexLock lock(&mu_);
  snapshots_.Clear();  // The versions before are of another leader's numbering.
  PublishLocked(std::move(fresh));
}

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> TrainingRun::Model(uint64_t version) {
  absl::MutexLock lock(&mu_);
  return snapshots_.Find(version);
}

void TrainingRun::CountRejected(WorkerRecord& worker, const std::string& reason) {
  counters_.CountRejected(reason);
  ++worker.updates_rejected;
  ++worker.rejected_by_reason[reason];
}

void TrainingRun::CountRejected(const std::string& worker_id, const std::string& reason) {
  if (WorkerRecord* worker = registry_.Find(worker_id)) {
    CountRejected(*worker, reason);
  } else {
    counters_.CountRejected(reason);
  }
}

absl::StatusOr<SubmitResult> TrainingRun::Submit(const std::string& worker_id,
                                                 const tributary::v1::UpdateHeader& header,
                                                 absl::Span<const float> update, int64_t wire_bytes) {
  return Submit(worker_id, header, DecodedUpdate(update, num_params_), wire_bytes);
}

absl::StatusOr<SubmitResult> TrainingRun::Submit(const std::string& worker_id,
                                                 const tributary::v1::UpdateHeader& header,
                                                 const UpdateSource& update, int64_t wire_bytes) {
  absl::MutexLock apply_lock(&apply_mu_);
  FlushIfDue();  // One a call that could not wait left, so that this update meets its version.
  absl::StatusOr<SubmitResult> result = ApplySubmit(worker_id, header, update, wire_bytes);
  FlushIfDue();  // One this submit's round or budget check asked for.
  return result;
}

absl::StatusOr<SubmitResult> TrainingRun::ApplySubmit(const std::string& worker_id,
                                                      const tributary::v1::UpdateHeader& header,
                                                      const UpdateSource& update, int64_t wire_bytes) {
  absl::StatusOr<Checked> checked;
  {
    absl::MutexLock lock(&mu_);
    checked = CheckSubmit(worker_id, header, wire_bytes);
  }
  if (!checked.ok()) return checked.status();
  if (!checked->live) return SubmitResult{false, checked->version};

  // Outside the bookkeeping lock: checking the update and its norm,
  // folding it in, stepping.
  const absl::StatusOr<double> norm = update.Inspect();
  if (!norm.ok()) {
    return RecordInvalid(worker_id, absl::InvalidArgumentError(
                                        absl::StrCat("task ", header.task_id(), ": ", norm.status().message())));
  }
  int64_t total_steps = 0;
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    if (absl::StatusOr<uint64_t> committed = CommitSubmit(worker_id, header, *norm); !committed.ok()) {
      return committed.status();
    }
    total_steps = budget_.schedule_steps();
    last = ledger_.finished();
  }
  aggregator_.set_total_steps(total_steps);
  aggregator_.Add(update, header.base_version(), worker_id);
  // The last updates of the budget do not wait for a buffer to fill.
  if (last) aggregator_.Flush();
  std::shared_ptr<const ModelSnapshot> fresh = SnapshotIfNew(checked->version);

  absl::MutexLock lock(&mu_);
  // Every version a reply names can be fetched while it is within the
  // staleness bound: a pipelining worker asks for it next.
  PublishLocked(std::move(fresh));
  applying_ = false;
  const absl::Time now = clock_.Now();
  if (counters_.updates_applied() % kHistoryEveryUpdates == 0) {
    history_.Append({version_, SecondsSinceStart(now), counters_.samples_processed(), counters_.train_loss(),
                     std::nullopt});
  }
  CloseRoundOnQuorum(now);
  return SubmitResult{true, version_};
}

absl::StatusOr<TrainingRun::Checked> TrainingRun::CheckSubmit(const std::string& worker_id,
                                                              const tributary::v1::UpdateHeader& header,
                                                              int64_t wire_bytes) {
  const absl::Time now = clock_.Now();
  TickLocked(now);
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return absl::UnauthenticatedError("unknown worker");
  const int64_t raw_bytes = static_cast<int64_t>(num_params_ * sizeof(float));
  worker->bytes_received_wire += wire_bytes;
  worker->bytes_received_raw += raw_bytes;
  counters_.CountReceived(wire_bytes, raw_bytes);

  const uint64_t task_id = header.task_id();
  absl::StatusOr<bool> live = ledger_.CheckLive(task_id, worker_id, now);
  if (!live.ok() || *live) RecordTime(*worker, header);
  if (!live.ok()) {
    CountRejected(*worker, rejected::kLease);
    return live.status();
  }
  if (!*live) return Checked{false, version_};
  const WorkItem& item = *ledger_.Find(task_id);
  // A pipelining worker computes on the newest model it has, which may be
  // newer than the lease's; never on one older, nor on one not made yet.
  if (header.base_version() < item.base_version || header.base_version() > version_ ||
      header.epoch() != item.epoch || header.shard_id() != item.shard) {
    CountRejected(*worker, rejected::kInvalid);
    return absl::InvalidArgumentError(absl::StrCat(
        "task ", task_id, ": an update from version ", header.base_version(), " for epoch ", header.epoch(),
        " shard ", header.shard_id(), ", but the lease is version ", item.base_version, " (now ", version_,
        ") epoch ", item.epoch, " shard ", item.shard));
  }
  if (absl::Status claims = CheckClaims(header, item); !claims.ok()) {
    CountRejected(*worker, rejected::kInvalid);
    return claims;
  }
  // Refused before it is decoded: a stale update costs no model-sized work.
  if (absl::Status stale = aggregator_.CheckStaleness(header.base_version()); !stale.ok()) {
    ledger_.Abandon(task_id);
    CountRejected(*worker, absl::IsAborted(stale) ? rejected::kStale : rejected::kInvalid);
    return absl::Status(stale.code(), absl::StrCat("task ", task_id, ": ", stale.message()));
  }
  return Checked{true, version_};
}

absl::StatusOr<uint64_t> TrainingRun::CommitSubmit(const std::string& worker_id,
                                                   const tributary::v1::UpdateHeader& header, double norm) {
  const absl::Time now = clock_.Now();
  const uint64_t task_id = header.task_id();
  // The lease may have lapsed, or its worker been lost, while the update
  // was decoded (Tick runs meanwhile).
  if (absl::StatusOr<bool> live = ledger_.CheckLive(task_id, worker_id, now); !live.ok() || !*live) {
    CountRejected(worker_id, rejected::kLease);
    return live.ok() ? absl::FailedPreconditionError(absl::StrCat("task ", task_id, ": completed meanwhile"))
                     : live.status();
  }
  if (absl::Status s = aggregator_.AdmitNorm(norm, worker_id); !s.ok()) {
    ledger_.Abandon(task_id);
    CountRejected(worker_id, rejected::kNorm);
    return absl::Status(s.code(), absl::StrCat("task ", task_id, ": ", s.message()));
  }
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return absl::UnauthenticatedError("unknown worker");  // A lease outlives no worker.
  const absl::Time leased_at = ledger_.Find(task_id)->leased_at;
  const uint64_t staleness = version_ - header.base_version();
  ledger_.Complete(task_id);
  ++buffered_;       // Folded in next, outside this lock; a SYNC round counts it now.
  applying_ = true;  // Until the version it makes is published.
  worker->staleness_last = staleness;
  worker->staleness_sum += staleness;
  counters_.CountApplied(staleness, header.examples(), header.examples() * tokens_per_example_);
  ++worker->updates_accepted;
  ++worker->tasks_done;
  samples_rate_.Record(now, counters_.samples_processed());
  tokens_rate_.Record(now, counters_.tokens_processed());
  task_seconds_.Observe(absl::ToDoubleSeconds(now - leased_at));
  if (header.loss() <= max_plausible_loss_) {
    counters_.SmoothTrainLoss(header.loss(), kTrainLossSmoothing);
  }
  return staleness;
}

void TrainingRun::RecordTime(WorkerRecord& worker, const tributary::v1::UpdateHeader& header) {
  if (!header.has_time()) return;  // A worker that does not report.
  if (!CheckTimeBudget(header.time()).ok()) {
    CountRefused(refused::kTimeBudget);
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

absl::Status TrainingRun::RefuseIfStale(const std::string& worker_id, const tributary::v1::UpdateHeader& header) {
  absl::MutexLock lock(&mu_);
  const uint64_t task_id = header.task_id();
  absl::StatusOr<bool> live = ledger_.CheckLive(task_id, worker_id, clock_.Now());
  if (!live.ok() || !*live) return absl::OkStatus();  // Submit says what is wrong.
  const WorkItem& item = *ledger_.Find(task_id);
  const uint64_t base = header.base_version(), bound = job_.aggregation().max_staleness();
  if (base < item.base_version || base > version_ || version_ - base <= bound) return absl::OkStatus();
  ledger_.Abandon(task_id);
  CountRejected(worker_id, rejected::kStale);
  return absl::AbortedError(absl::StrCat("task ", task_id, ": staleness ", version_ - base,
                                         " exceeds the bound of ", bound, " (refused before its upload)"));
}

absl::Status TrainingRun::RecordInvalid(const std::string& worker_id, const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  WorkerRecord* worker = registry_.Find(worker_id);
  if (worker == nullptr) return error;
  CountRejected(*worker, rejected::kInvalid);
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

std::optional<EvalRequest> TrainingRun::WaitForEval(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(this, &TrainingRun::EvalDue), timeout)) {
    return std::nullopt;
  }
  eval_.Start();
  return EvalRequest{snapshots_.current(), TrainingEnded(), counters_.samples_processed(),
                     SecondsSinceStart(clock_.Now()), counters_.train_loss()};
}

void TrainingRun::RecordEval(const EvalRequest& request, const LossStats& stats) {
  absl::MutexLock lock(&mu_);
  eval_.Finish(request.model->version, request.final);
  counters_.RecordEval(stats);
  history_.Append({request.model->version, request.time_s, request.samples_processed, request.train_loss,
                   stats.mean_loss()});
  TLOG(INFO) << "eval at version " << request.model->version << ": loss " << stats.mean_loss()
             << (job_.model().has_mlp() ? absl::StrCat(" accuracy ", stats.accuracy()) : "")
             << (request.final ? " (final)" : "");
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
  s.done = eval_.done();
  s.model_version = version_;
  s.updates_applied = counters_.updates_applied();
  s.updates_rejected = counters_.proto().updates_rejected();
  s.rejected_by_reason = counters_.rejected_by_reason();
  s.staleness_histogram = counters_.staleness_histogram();
  s.buffered_updates = buffered_;
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
