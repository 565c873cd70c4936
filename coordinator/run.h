// TrainingRun is the coordinator's state for one job: the ledger, the
// aggregator (master weights), the worker registry, counters and history.
// It decides; the gRPC and HTTP shells only translate.
//
// Two locks. `mu_` guards the bookkeeping (ledger, registry, bans,
// counters, the served snapshots, the eval schedule) and is held only for
// bookkeeping: no call does model-sized work under it. `apply_mu_` guards
// the aggregator and serialises what changes or reads the weights whole:
// a submit holds it while its update is decoded, checked and folded in and
// the optimizer steps, and while the new version's snapshot is copied;
// checkpoints and Restore hold it too, so that they see the ledger and the
// weights agree. Heartbeat, GetTask, Status, Model and the rest take `mu_`
// alone, so they never wait for an upload, an apply or a checkpoint (the
// one exception: a call that closes a SYNC round or the time budget
// applies the last buffer if no submit is applying, TryLock, never waiting).
//
// A submit commits in the ledger first (under `mu_`, after every check
// that can reject it), then folds its update into the weights outside
// `mu_`, then publishes the new version; a checkpoint, holding
// `apply_mu_`, never falls between the two.
//
// Time comes from the injected Clock; no call blocks on I/O or the network,
// except a version fence when one is set (SetVersionFence: several
// coordinators on etcd).
// Thread-safe.
#ifndef TRIBUTARY_COORDINATOR_RUN_H_
#define TRIBUTARY_COORDINATOR_RUN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/models/model.h"
#include "common/rate_window.h"
#include "common/sha256.h"
#include "coordinator/aggregator.h"
#include "coordinator/ban_list.h"
#include "coordinator/counters.h"
#include "coordinator/dataset.h"
#include "coordinator/eval_schedule.h"
#include "coordinator/histogram.h"
#include "coordinator/history.h"
#include "coordinator/ledger.h"
#include "coordinator/model_snapshot.h"
#include "coordinator/registry.h"
#include "coordinator/snapshot_cache.h"
#include "coordinator/update_source.h"
#include "coordinator/wall_clock_budget.h"
#include "tributary/v1/checkpoint.pb.h"
#include "tributary/v1/coordinator.pb.h"
#include "tributary/v1/job.pb.h"

namespace tributary::coordinator {

struct TaskDecision {
  std::optional<tributary::v1::Task> task;  // Set when a task was leased.
  bool job_done = false;
  absl::Duration retry_after = absl::ZeroDuration();
};

struct SubmitResult {
  bool applied = false;  // False for a duplicate of an applied submit.
  uint64_t model_version = 0;
};

struct EvalRequest {
  std::shared_ptr<const ModelSnapshot> model;
  bool final = false;  // The evaluation after the budget is spent.
  // The run when the evaluation was asked for (its model the newest): where
  // the evaluation goes on the loss curves.
  int64_t samples_processed = 0;
  double time_s = 0;  // Since the run started.
  std::optional<double> train_loss;
};

// How far a run has come: a checkpoint is worth writing only when it moved.
// A ban is part of the run too: one earned while no update arrives must
// still reach the checkpoint, or a restart forgets it.
struct Rates {
  double samples_per_s = 0;
  double tokens_per_s = 0;
};

struct RunProgress {
  uint64_t version = 0;
  int64_t updates_applied = 0;  // Counts updates waiting in a buffer too.
  bool done = false;
  int64_t ban_changes = 0;  // Bans added or lifted by this process.

  bool operator==(const RunProgress& o) const {
    return version == o.version && updates_applied == o.updates_applied && done == o.done &&
           ban_changes == o.ban_changes;
  }
};

// How the run ends and how much of its budget is done.
struct BudgetStatus {
  std::optional<double> seconds;      // The wall-clock budget, when the job has one.
  std::optional<double> remaining_s;  // Of it; 0 once spent.
  std::string ended_by;               // "" while training, then "epochs" or "time".
  EpochProgress epochs;               // Whole epochs done, and the shards of a partial one.
  int64_t schedule_steps = 0;         // The optimizer schedule's length (re-estimated under a time budget).
};

// Everything the status endpoint shows, copied out under the lock.
struct RunStatus {
  std::string job;
  bool done = false;
  uint64_t model_version = 0;
  int64_t updates_applied = 0;
  int64_t updates_rejected = 0;
  std::map<std::string, int64_t> rejected_by_reason;
  std::vector<int64_t> staleness_histogram;  // Accepted updates by staleness.
  int buffered_updates = 0;                  // Waiting for the buffer (or SYNC round) to fill.
  bool sync = false;                         // aggregation.mode SYNC.
  int updates_per_version = 1;               // aggregation.buffer_size: of a buffer, or a round.
  int64_t samples_processed = 0;
  int64_t tokens_processed = 0;
  Rates rates;                 // Over the last rates_window_s, computed here.
  double rates_window_s = 0;
  std::optional<double> train_loss;
  std::optional<double> eval_loss;
  std::optional<double> eval_accuracy;
  double uptime_s = 0;
  int epochs = 0;
  BudgetStatus budget;
  LedgerCounts shards;
  LeaseCounts tasks;
  int64_t joins = 0;       // Sessions joined over the run.
  int64_t bans_total = 0;  // Bans imposed over the run (`bans` holds those in force).
  // Since this process started: a task's lease to its accepted update,
  // and submits from the upload's start, and from its last byte, to the reply.
  Histogram task_seconds;
  Histogram submit_seconds;
  Histogram submit_apply_seconds;
  bool per_worker_metrics = false;  // monitoring.per_worker_metrics.
  int64_t bytes_received_wire = 0;
  int64_t bytes_received_raw = 0;
  int64_t bytes_sent_wire = 0;
  int64_t bytes_sent_raw = 0;
  absl::Time now;
  std::vector<WorkerRecord> workers;
  std::map<std::string, int64_t> forgotten_workers;  // Records aged out of memory, by state.
  std::map<std::string, int64_t> refused_by_reason;  // Requests refused before the run.
  std::vector<Ban> bans;                              // In force now.
  tributary::v1::TimeBudget time;                     // Every worker's reports, summed.
};

class TrainingRun {
 public:
  // `dataset` is borrowed and must outlive the run. Starts at version 0 from
  // `initial_params`. The aggregator's robust rules use up to
  // `aggregation_threads` threads (>= 1).
  TrainingRun(const tributary::v1::JobSpec& job, const Dataset& dataset,
              std::vector<float> initial_params, Clock& clock, int aggregation_threads = 1);

  const tributary::v1::JobSpec& job() const { return job_; }
  // The length of the workers' inner learning-rate schedule (jobs with
  // local steps): every worker's local steps, tasks x H, so that the
  // schedule is a function of the samples seen, the same in every mode
  // and for any number of workers (warmup_steps are batches of the run,
  // not of one worker). A task from version v starts at v x K x H, K the
  // updates per version (buffer_size, or a SYNC round), so the version
  // that ends the budget stands at the schedule's end in every mode (it
  // once stood at v x H, and with K > 1 the inner cosine got 1/K of the
  // way). Under a time budget each task carries the current estimate
  // instead (Task.schedule_total_steps).
  uint64_t InnerScheduleSteps();

  // Registers a worker under `session_token` (made by the caller from a
  // CSPRNG); returns its id. PERMISSION_DENIED while its identity is
  // banned (the message says until when and why), RESOURCE_EXHAUSTED when
  // the identity holds the job's limit of sessions.
  absl::StatusOr<std::string> Join(const WorkerInfo& info, const std::string& session_token);

  // Declares silent workers lost, expires overdue leases and ended bans.
  // The coordinator calls it on a timer; requests that change the run call
  // it too, so they see the state as of now. Status() never does.
  void Tick();

  // Ends the sessions of identities that `admitted` no longer names (a
  // join token was revoked); returns how many ended.
  int EndRevokedSessions(const std::function<bool(absl::string_view token_name)>& admitted);

  // Lifts the ban on `identity`; returns whether there was one.
  bool LiftBan(absl::string_view identity);

  // Counts a request refused before it reached the run, or the part of one
  // the run ignored (`reason`: one of coordinator/reasons.h's refused::).
  // Does not take the run's lock, so a flood of refusals never stalls the run.
  void CountRefused(absl::string_view reason);

  // Records how long a submit took, from its upload's start (`total`) and
  // from its last byte (`apply`: decoding and applying), to the reply.
  // Does not take the run's lock either.
  void RecordSubmitLatency(absl::Duration total, absl::Duration apply);

  // The id of the active worker holding this session. UNAUTHENTICATED for
  // an unknown or ended session (lost, left, banned).
  absl::StatusOr<std::string> Authenticate(const std::string& session_token);

  // Renews all the worker's leases. Returns, once each, the ids among
  // `current_task` (what it computes, shown on the dashboard) and `held`
  // (every task it still holds) no longer leased to it: it should abandon
  // them. Ids of 0 are skipped. The service bounds `held` (kMaxHeldTasks).
  std::vector<uint64_t> Heartbeat(const std::string& worker_id, uint64_t current_task,
                                  absl::Span<const uint64_t> held = {});

  // Leases the next shard to the worker. Of the leases it holds, those named
  // in `keep` stay leased to it (a pipelining worker leases its next task
  // while it computes or submits these); the others go back to the queue.
  // The service bounds `keep` (kMaxKeptTasks). job_done once the epochs
  // are done or the time budget is spent (wall_clock_budget.h).
  TaskDecision GetTask(const std::string& worker_id, absl::Span<const uint64_t> keep = {});

  // A version an update may still be based on: the current one (whether
  // or not a task named it yet: a worker learns of it from its submit's
  // reply) or one a task was based on, back to the staleness bound.
  // NOT_FOUND for any other.
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> Model(uint64_t version);
  // Everything the run is, as one consistent checkpoint: the job, weights,
  // optimizer state and buffer, shard ledger, workers, counters, history.
  tributary::v1::Checkpoint MakeCheckpoint();

  // Goes on from `checkpoint` (made by MakeCheckpoint of a run of the same
  // job over the same data). Call before serving. Work leased when it was
  // written goes back to the queue; workers join again. FAILED_PRECONDITION
  // when the checkpoint is of another job or dataset or cannot be resumed,
  // INVALID_ARGUMENT when its state is malformed; either way the run is
  // left as it was.
  absl::Status Restore(const tributary::v1::Checkpoint& checkpoint);

  // Called with each new model version after it is made and before anyone
  // is told of it, on the thread that applies (under the apply lock). The
  // coordinators' failover records it in etcd there, fenced by the
  // leader's lease; the fence does not return when it refuses (the process
  // stops). The one call of the run that waits on the network. Call before
  // serving.
  using VersionFence = std::function<void(uint64_t version)>;
  void SetVersionFence(VersionFence fence);

  // Numbers the current weights `version` when that is above the current
  // version, and publishes them under it (through the fence): a new leader
  // goes on after the newest version any leader applied, so versions only
  // grow across leaders. Call after Restore, before serving.
  void ContinueAfter(uint64_t version);

  // The current model version.
  uint64_t version();
  // Workers with a live session.
  int ActiveWorkers();
  RunProgress Progress();

  // Records the header's time budget (the worker's, and the run's sums)
  // whatever becomes of the update, unless the task was applied before (a
  // retry's report was counted the first time). A report that fails
  // CheckTimeBudget is ignored and counted as refused ("time_budget"); it
  // never fails the submit.
  //
  // Folds a decoded update (finite, params-sized) into the model, its
  // header as the service's CheckHeader passed it (loss finite and not
  // negative); the examples it claims are checked against the task's shard
  // here. Counts the upload's `wire_bytes`. The header's base version may
  // be any from the lease's to the current one (a pipelining worker
  // computes on the newest model it has); staleness is counted from it.
  // Errors: the ledger's (lease expired, not yours, unknown task), ABORTED
  // for a stale update, INVALID_ARGUMENT for a base version outside that
  // range or an epoch or shard not the lease's. A retried submit of an
  // applied task returns OK with applied = false.
  //
  // `update` is read outside `mu_`, and only once the cheap checks passed
  // (a stale update is refused before it is decoded), straight into the
  // aggregator's buffer (aggregator.h): no model-sized allocation per
  // submit. An update its Inspect() refuses is counted as an invalid
  // request (RecordInvalid) and the error returned.
  absl::StatusOr<SubmitResult> Submit(const std::string& worker_id, const tributary::v1::UpdateHeader& header,
                                      const UpdateSource& update, int64_t wire_bytes);
  // The same with the update decoded already.
  absl::StatusOr<SubmitResult> Submit(const std::string& worker_id,
                                      const tributary::v1::UpdateHeader& header,
                                      absl::Span<const float> update, int64_t wire_bytes);

  // ABORTED, counted as a stale rejection and the lease given back, when an
  // upload whose header just arrived is already beyond the staleness bound
  // (the service stops it before its payload is received); OK otherwise,
  // for Submit to check in full.
  absl::Status RefuseIfStale(const std::string& worker_id, const tributary::v1::UpdateHeader& header);

  // Counts an invalid request against the worker; at the job's limit, bans
  // its identity for limits.ban_duration_s and ends all its sessions.
  // Returns `error`, noting a ban.
  absl::Status RecordInvalid(const std::string& worker_id, const absl::Status& error);

  // The worker leaves cleanly: its leases return to the queue at once.
  void Leave(const std::string& worker_id);

  // Counts payload bytes streamed to a worker (shards and models): as sent,
  // and as what they stand for uncompressed (a model delta, a whole model).
  void CountSent(const std::string& worker_id, int64_t wire_bytes, int64_t raw_bytes);

  // Waits up to `timeout` for an evaluation to be due, and returns it. The
  // caller evaluates outside the lock and reports back with RecordEval.
  std::optional<EvalRequest> WaitForEval(absl::Duration timeout);
  void RecordEval(const EvalRequest& request, const LossStats& stats);

  // Waits up to `timeout` for the run to be done: budget spent and the final
  // evaluation recorded.
  bool WaitUntilDone(absl::Duration timeout);

  RunStatus Status();
  std::vector<HistoryPoint> History();
  // The ledger's audit: every work item with its lease and completion counts.
  std::vector<WorkItem> LedgerItems();

 private:
  // What Submit's checks under `mu_` found.
  struct Checked {
    bool live = true;        // False: the task was applied before (a retry).
    uint64_t version = 0;    // The model's, when checked.
  };

  // Submit's first part, under `mu_`: the lease, the header against it,
  // the claims and the staleness bound, each rejection counted.
  absl::StatusOr<Checked> CheckSubmit(const std::string& worker_id, const tributary::v1::UpdateHeader& header,
                                      int64_t wire_bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, apply_mu_);
  // Its second, under `mu_` again once the update is decoded: the lease
  // may have lapsed meanwhile; the norm check; then the ledger's commit
  // and the counters. Returns the staleness.
  absl::StatusOr<uint64_t> CommitSubmit(const std::string& worker_id, const tributary::v1::UpdateHeader& header,
                                        double norm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, apply_mu_);
  // Submit, holding apply_mu_: CheckSubmit, Inspect (outside `mu_`),
  // CommitSubmit, fold the update in and step (outside `mu_`), publish.
  absl::StatusOr<SubmitResult> ApplySubmit(const std::string& worker_id, const tributary::v1::UpdateHeader& header,
                                           const UpdateSource& update, int64_t wire_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // The aggregator's weights as a new snapshot, if its version is not
  // the one published, its digest computed; nullptr otherwise. A
  // model-sized copy and hash: call it outside `mu_`.
  std::shared_ptr<const ModelSnapshot> SnapshotIfNew(uint64_t published) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // Serves `fresh` (if any) as the current version and mirrors the
  // aggregator's version and buffer.
  void PublishLocked(std::shared_ptr<const ModelSnapshot> fresh) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, apply_mu_);
  // Applies the partly filled buffer a SYNC round's close or the time
  // budget's end asked for (flush_due_), if they did.
  void FlushIfDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // The same from a call that must not wait: only if no submit holds
  // apply_mu_ (a submit flushes when it ends; so does the timer's Tick).
  void TryFlushIfDue() ABSL_LOCKS_EXCLUDED(mu_, apply_mu_);
  // TickLocked; returns whether a flush is due. Tick then waits for the
  // apply lock to flush; TickWithoutWaiting, for calls that must not
  // wait, only tries (TryFlushIfDue).
  bool TickAndCheckFlush() ABSL_LOCKS_EXCLUDED(mu_);
  void TickWithoutWaiting() ABSL_LOCKS_EXCLUDED(mu_, apply_mu_);

  void TickLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns the leases of the workers `ids` to the queue.
  void ReleaseAll(const std::vector<std::string>& ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The examples the header claims against the task's shard;
  // INVALID_ARGUMENT for a count that cannot be honest.
  absl::Status CheckClaims(const tributary::v1::UpdateHeader& header, const WorkItem& item) const;
  // GetTask but the task's model digest, which is computed outside the lock.
  TaskDecision GetTaskLocked(const std::string& worker_id, absl::Span<const uint64_t> keep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool EvalDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !applying_ && !flush_due_ && eval_.Due(version_, TrainingEnded());
  }
  // No more updates will be applied: the epochs are done or the time is up.
  bool TrainingEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ledger_.finished() || budget_.ended(); }
  // Moves the time budget to `now`; at its end, releases the leases still
  // out and asks for the partly filled buffer to be applied.
  void AdvanceBudget(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  BudgetStatus BudgetStatusAt(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return eval_.done(); }
  // aggregation.mode SYNC.
  bool sync() const;
  // SYNC with a sync_quorum: once the quorum of the round's updates has
  // been in for straggler_grace_s, revokes the leases still out and asks
  // for the round to be applied.
  void CloseRoundOnQuorum(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountRejected(WorkerRecord& worker, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CountRejected for the worker `worker_id`, if it is still known.
  void CountRejected(const std::string& worker_id, const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a reported time budget to the worker's and the run's (see Submit).
  void RecordTime(WorkerRecord& worker, const tributary::v1::UpdateHeader& header)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double SecondsSinceStart(absl::Time now) const;
  // The counters' message with the eval schedule and the refusals in it.
  tributary::v1::RunCounters SaveCounters() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const tributary::v1::JobSpec job_;
  const Dataset& dataset_;
  Clock& clock_;
  absl::Time start_;  // Of the run: a resumed run's is moved back by its earlier run time.
  const int64_t tokens_per_example_;  // Predicted tokens per sequence; 0 for classifiers.
  const double max_plausible_loss_;   // Reported losses above it are not folded into train_loss.
  const size_t num_params_;

  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  Aggregator aggregator_ ABSL_GUARDED_BY(apply_mu_);
  VersionFence fence_ ABSL_GUARDED_BY(apply_mu_);

  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(apply_mu_);
  // The aggregator's version and buffered(), as last published.
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int buffered_ ABSL_GUARDED_BY(mu_) = 0;
  // A SYNC round closed, or the time ran out, with updates in the buffer:
  // they are to be applied as they are (FlushIfDue).
  bool flush_due_ ABSL_GUARDED_BY(mu_) = false;
  // A submit is committed in the ledger but not yet published: no
  // evaluation starts on the version before it.
  bool applying_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotCache snapshots_ ABSL_GUARDED_BY(mu_);
  ShardLedger ledger_ ABSL_GUARDED_BY(mu_);
  WallClockBudget budget_ ABSL_GUARDED_BY(mu_);
  WorkerRegistry registry_ ABSL_GUARDED_BY(mu_);
  BanList bans_ ABSL_GUARDED_BY(mu_);
  int64_t ban_changes_ ABSL_GUARDED_BY(mu_) = 0;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  EvalSchedule eval_ ABSL_GUARDED_BY(mu_);
  // SYNC: the version whose round reached its sync_quorum, and when.
  std::optional<std::pair<uint64_t, absl::Time>> round_quorum_since_ ABSL_GUARDED_BY(mu_);
  LossHistory history_ ABSL_GUARDED_BY(mu_);
  RateWindow samples_rate_ ABSL_GUARDED_BY(mu_);
  RateWindow tokens_rate_ ABSL_GUARDED_BY(mu_);
  Histogram task_seconds_ ABSL_GUARDED_BY(mu_);

  // What the service counts before or after the run's work has a lock of
  // its own (CountRefused, RecordSubmitLatency).
  mutable absl::Mutex requests_mu_;
  std::map<std::string, int64_t> refused_by_reason_ ABSL_GUARDED_BY(requests_mu_);
  Histogram submit_seconds_ ABSL_GUARDED_BY(requests_mu_);
  Histogram submit_apply_seconds_ ABSL_GUARDED_BY(requests_mu_);
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_RUN_H_
