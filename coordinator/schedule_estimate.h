// How long a learning-rate schedule must be to end when a wall-clock budget
// does (JobSpec.budget.seconds). A schedule is counted in optimizer steps
// (model versions), but a time budget does not say how many steps it holds:
// that depends on how fast the workers turn tasks into versions, which
// changes as workers come and go. So the length is re-estimated as the run
// goes, from the measured rate:
//
//   total = steps + rate * (budget_s - elapsed_s)
//
// clamped to [steps + 1, max_steps] (the schedule never ends before the
// next step, nor later than the epoch budget allows). `rate` is a moving
// average of steps per second over about `smoothing_s`: until that much time
// has been measured it is the plain average since the first step, after
// that an exponential one, so an early noisy second does not swing the
// schedule and a later change of pace is followed within a few
// `smoothing_s`. At a constant rate the estimate is exact from the first
// measurement on, and the schedule is the one a run of known length would
// have had: it ends at the deadline. Warmup is not stretched: it stays the
// spec's warmup_steps (ScheduledLearningRate).
//
// Time is the run's own (seconds since it started, a resumed run's earlier
// time included), passed in; nothing here reads a clock.
// Pure and deterministic; not thread-safe (the owner serialises calls).
#ifndef TRIBUTARY_COORDINATOR_SCHEDULE_ESTIMATE_H_
#define TRIBUTARY_COORDINATOR_SCHEDULE_ESTIMATE_H_

#include <cstdint>
#include <optional>

namespace tributary::coordinator {

struct ScheduleEstimateOptions {
  double budget_s = 0;    // The wall-clock budget; > 0.
  int64_t max_steps = 1;  // The longest the schedule may be (the epoch budget's steps); >= 1.
  // About how far back the rate looks. Default: a tenth of the budget, at
  // most a minute, at least a second.
  std::optional<double> smoothing_s;
  // Observations closer together than this are not measured (the next one
  // covers their interval): a rate over a few milliseconds is noise.
  double min_interval_s = 1;
};

class ScheduleEstimator {
 public:
  explicit ScheduleEstimator(const ScheduleEstimateOptions& options);

  // Goes on from a run that has taken `steps` in `elapsed_s` (a resumed
  // one): until it measures a rate of its own, it assumes the average rate
  // so far. Forgets what it measured before.
  void Resume(double elapsed_s, int64_t steps);

  // The run has taken `steps` steps after `elapsed_s` seconds. Calls must
  // not go back in time or in steps. Time before the first step (workers
  // still joining) is not measured as a rate of zero.
  void Observe(double elapsed_s, int64_t steps);

  // The schedule's length as of the last observation: max_steps until a
  // rate is known.
  int64_t total_steps() const { return total_steps_; }
  // Steps per second, once measured (or assumed by Resume).
  std::optional<double> steps_per_s() const { return rate_; }

 private:
  void Update();

  double budget_s_;
  int64_t max_steps_;
  double smoothing_s_;
  double min_interval_s_;
  // The last observation that was measured.
  double last_s_ = 0;
  int64_t last_steps_ = 0;
  bool started_ = false;        // An observation has been made.
  double measured_s_ = 0;       // Time the rate averages over so far.
  std::optional<double> rate_;
  int64_t total_steps_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_SCHEDULE_ESTIMATE_H_
