// Where a worker's wall time goes. The training thread is always in one
// phase (computing, encoding, or waiting for a download, an upload, a task,
// the coordinator's apply, or a retry); Enter switches phases and charges
// the time since the last switch to the phase that ends, so the phases
// never overlap and add up to the wall time. Take returns what accumulated
// since the last Take (one task's budget, sent with its update) and starts
// the next. Transfers that ran beside compute are added separately: they
// cost the training thread nothing.
//
// Pure (the caller passes the time) and thread-safe: background transfers
// report from their own threads.
#ifndef TRIBUTARY_WORKER_PHASE_CLOCK_H_
#define TRIBUTARY_WORKER_PHASE_CLOCK_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/time_budget.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::worker {

// In the order of TimeBudget's phase fields (common/time_budget.h).
enum class Phase { kCompute, kEncode, kDownload, kUpload, kWaitTask, kWaitApply, kOther };

class PhaseClock {
 public:
  // Starts in `phase` at `now`.
  explicit PhaseClock(absl::Time now, Phase phase = Phase::kOther);

  // Charges the time since the last switch to the current phase, makes
  // `phase` current, and returns the phase that ended.
  Phase Enter(Phase phase, absl::Time now);

  // Transfer time spent beside the training thread (or on it: the waiting
  // is charged by Enter either way; these only count the transfers).
  void AddDownloadTransfer(absl::Duration d);
  void AddUploadTransfer(absl::Duration d);

  // The budget since the last Take, charged up to `now`; starts the next.
  tributary::v1::TimeBudget Take(absl::Time now);

 private:
  void ChargeLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_);
  absl::Time since_ ABSL_GUARDED_BY(mu_);
  tributary::v1::TimeBudget budget_ ABSL_GUARDED_BY(mu_);
};

// Enters `phase` for a scope, then goes back to the phase before it.
class ScopedPhase {
 public:
  // `time` is borrowed for the scope.
  ScopedPhase(PhaseClock& phases, Clock& time, Phase phase)
      : phases_(phases), time_(time), previous_(phases.Enter(phase, time.Now())) {}
  ~ScopedPhase() { phases_.Enter(previous_, time_.Now()); }
  ScopedPhase(const ScopedPhase&) = delete;
  ScopedPhase& operator=(const ScopedPhase&) = delete;

 private:
  PhaseClock& phases_;
  Clock& time_;
  Phase previous_;
};

// "compute 240 ms, download 12 ms, wait for apply 30 ms (utilization 85 %)":
// the phases that took time, for the worker's log.
std::string FormatBudget(const tributary::v1::TimeBudget& budget);

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_PHASE_CLOCK_H_
