#include "coordinator/wall_clock_budget.h"

#include <algorithm>

namespace tributary::coordinator {
namespace {

ScheduleEstimateOptions EstimateOptions(double seconds, int64_t max_steps) {
  ScheduleEstimateOptions options;
  options.budget_s = seconds;
  options.max_steps = max_steps;
  return options;
}

}  // namespace

WallClockBudget::WallClockBudget(double seconds, double grace_s, int64_t max_steps)
    : seconds_(seconds),
      grace_s_(grace_s),
      estimator_(EstimateOptions(seconds, max_steps)) {}

void WallClockBudget::Resume(double elapsed_s, int64_t steps) {
  deadline_passed_ = false;
  ended_ = false;
  if (enabled()) estimator_.Resume(elapsed_s, steps);
}

BudgetEvent WallClockBudget::Advance(double elapsed_s, int64_t steps, int64_t leases_out) {
  if (!enabled() || ended_) return BudgetEvent::kNone;
  estimator_.Observe(elapsed_s, steps);
  if (elapsed_s < seconds_) return BudgetEvent::kNone;
  const bool first = !deadline_passed_;
  deadline_passed_ = true;
  if (leases_out == 0 || elapsed_s >= seconds_ + grace_s_) {
    ended_ = true;
    return BudgetEvent::kEnded;
  }
  return first ? BudgetEvent::kDeadline : BudgetEvent::kNone;
}

std::optional<double> WallClockBudget::remaining_s(double elapsed_s) const {
  if (!enabled()) return std::nullopt;
  return std::max(0.0, seconds_ - elapsed_s);
}

EpochProgress CountEpochProgress(absl::Span<const WorkItem> items, int64_t shards_per_epoch) {
  EpochProgress progress;
  if (shards_per_epoch <= 0) return progress;
  int64_t done = 0, leading_done = 0;
  bool gap = false;
  for (const WorkItem& item : items) {
    const bool is_done = item.state == WorkState::kDone;
    done += is_done;
    gap |= !is_done;
    if (!gap) ++leading_done;
  }
  progress.complete_epochs = leading_done / shards_per_epoch;
  progress.partial_epoch_shards = done - progress.complete_epochs * shards_per_epoch;
  return progress;
}

}  // namespace tributary::coordinator
