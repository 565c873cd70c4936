#include "coordinator/schedule_estimate.h"

#include <algorithm>
#include <cmath>

namespace tributary::coordinator {
namespace {

// Bounds of the default smoothing: a tenth of the budget follows a change
// of pace well before the end, but a 10-minute run must not react to every
// hiccup of a few seconds.
constexpr double kMinSmoothingS = 1;
constexpr double kMaxSmoothingS = 60;

}  // namespace

ScheduleEstimator::ScheduleEstimator(const ScheduleEstimateOptions& options)
    : budget_s_(options.budget_s),
      max_steps_(std::max<int64_t>(1, options.max_steps)),
      smoothing_s_(options.smoothing_s.value_or(
          std::clamp(options.budget_s / 10, kMinSmoothingS, kMaxSmoothingS))),
      min_interval_s_(options.min_interval_s),
      total_steps_(max_steps_) {}

void ScheduleEstimator::Resume(double elapsed_s, int64_t steps) {
  started_ = true;
  last_s_ = elapsed_s;
  last_steps_ = steps;
  rate_.reset();
  measured_s_ = 0;
  if (steps > 0 && elapsed_s > 0) {
    rate_ = steps / elapsed_s;
    measured_s_ = elapsed_s;
  }
  Update();
}

void ScheduleEstimator::Observe(double elapsed_s, int64_t steps) {
  if (!started_) {
    started_ = true;
    last_s_ = elapsed_s;
    last_steps_ = steps;
    Update();
    return;
  }
  const double dt = elapsed_s - last_s_;
  if (dt < min_interval_s_) {
    // Not measured, but the schedule must still reach past the steps taken.
    total_steps_ = std::max(total_steps_, steps + 1);
    return;
  }
  const int64_t new_steps = steps - last_steps_;
  last_s_ = elapsed_s;
  last_steps_ = steps;
  if (steps == 0) return;  // Nobody has worked yet: not a rate of zero.
  measured_s_ += dt;
  const double rate = new_steps / dt;
  // The plain average while less than smoothing_s_ is measured, then an
  // exponential one; at a constant rate either is that rate exactly.
  const double alpha = std::min(1.0, dt / std::min(smoothing_s_, measured_s_));
  rate_ = rate_ ? *rate_ + alpha * (rate - *rate_) : rate;
  Update();
}

void ScheduleEstimator::Update() {
  double total = static_cast<double>(max_steps_);
  if (rate_) total = std::min(total, last_steps_ + *rate_ * std::max(0.0, budget_s_ - last_s_));
  total_steps_ = std::max(static_cast<int64_t>(std::llround(total)), last_steps_ + 1);
}

}  // namespace tributary::coordinator
