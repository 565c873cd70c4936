// A run's wall-clock budget (JobSpec.budget.seconds): when tasks stop being
// leased, when training ends, and how long the learning-rate schedules are
// meanwhile. Time is the run's own, in seconds since it started (a resumed
// run's earlier time included, the time it was stopped not), passed in.
//
//   elapsed < seconds          training: tasks are leased; the schedules are
//                              stretched to end at `seconds` (ScheduleEstimator).
//   seconds <= elapsed         draining: no task is leased (GetTask answers
//                              job_done); updates of tasks leased before the
//                              deadline are still accepted, at the schedule's
//                              tail (its learning rate is close to zero there).
//   no lease out, or           ended: TrainingRun releases the leases still
//   elapsed >= seconds + grace out (their items stay pending), applies a
//                              partly filled buffer, and the final
//                              evaluation runs.
//
// The grace is the job's lease timeout (how long a lease lives without a
// heartbeat): time for a task in flight to come in, bounded whatever its
// worker does. A worker that vanished is declared lost sooner (heartbeat
// timeout) and its leases released, so the run waits for it no longer.
//
// A budget of 0 seconds is none: the run ends with its epochs only, and the
// schedule is the epoch budget's length.
//
// Pure and deterministic; not thread-safe (the owner serialises calls).
#ifndef TRIBUTARY_COORDINATOR_WALL_CLOCK_BUDGET_H_
#define TRIBUTARY_COORDINATOR_WALL_CLOCK_BUDGET_H_

#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "coordinator/ledger.h"
#include "coordinator/schedule_estimate.h"

namespace tributary::coordinator {

enum class BudgetEvent {
  kNone,
  kDeadline,  // Time is up: stop leasing; leases out may still submit.
  kEnded,     // Training is over (the deadline has passed too).
};

class WallClockBudget {
 public:
  // `max_steps`: the schedule's length under the epoch budget (>= 1).
  WallClockBudget(double seconds, double grace_s, int64_t max_steps);

  bool enabled() const { return seconds_ > 0; }
  double seconds() const { return seconds_; }

  // Goes on from a checkpoint: `steps` taken in `elapsed_s`. Draining and
  // ending are decided afresh by the next Advance.
  void Resume(double elapsed_s, int64_t steps);

  // The run stands at `elapsed_s` with `steps` optimizer steps taken and
  // `leases_out` tasks leased. Returns what changed; kEnded at most once,
  // and it implies the deadline (a call may skip kDeadline).
  BudgetEvent Advance(double elapsed_s, int64_t steps, int64_t leases_out);

  // Whether tasks may be leased (always, without a time budget).
  bool leasing() const { return !deadline_passed_; }
  bool ended() const { return ended_; }
  // Seconds left of the budget (0 once spent); nullopt without one.
  std::optional<double> remaining_s(double elapsed_s) const;
  // The optimizer schedule's length in steps (model versions).
  int64_t schedule_steps() const { return estimator_.total_steps(); }

 private:
  double seconds_;
  double grace_s_;
  ScheduleEstimator estimator_;
  bool deadline_passed_ = false;
  bool ended_ = false;
};

// How much of the epoch budget a ledger has done: the epochs with every
// shard done (each exactly once: the ledger never completes an item
// twice), and the shards done beyond them, a partial epoch (at an epoch's
// end, items of the next are leased before the last of this one are in, so
// the partial work may straddle two epochs). `items` in the ledger's
// order, epoch by epoch.
struct EpochProgress {
  int64_t complete_epochs = 0;
  int64_t partial_epoch_shards = 0;
};
EpochProgress CountEpochProgress(absl::Span<const WorkItem> items, int64_t shards_per_epoch);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_WALL_CLOCK_BUDGET_H_
