#include "coordinator/schedule_estimate.h"

#include <cmath>
#include <cstdint>

#include "common/optim/optimizer.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

ScheduleEstimateOptions Options(double budget_s, int64_t max_steps = 1'000'000) {
  ScheduleEstimateOptions options;
  options.budget_s = budget_s;
  options.max_steps = max_steps;
  return options;
}

tributary::v1::OptimizerSpec Cosine(int warmup_steps) {
  tributary::v1::OptimizerSpec spec;
  spec.set_lr(1.0f);
  spec.set_warmup_steps(warmup_steps);
  spec.set_schedule(tributary::v1::OptimizerSpec::COSINE);
  return spec;
}

// 3 steps a second for 100 s, each step's learning rate taken from the
// estimate as it stands when the step is applied (the run observes, then
// steps): exactly the schedule of a run known to be 300 steps long, whose
// cosine ends at the deadline.
TEST(ScheduleEstimateTest, AConstantRateGivesTheScheduleOfAKnownLength) {
  constexpr double kBudget = 100, kRate = 3;
  constexpr int64_t kSteps = 300;
  const tributary::v1::OptimizerSpec spec = Cosine(/*warmup_steps=*/10);
  ScheduleEstimator estimator(Options(kBudget));
  for (int64_t step = 0; step < kSteps; ++step) {
    estimator.Observe(step / kRate, step);
    if (step >= kRate) {
      EXPECT_EQ(estimator.total_steps(), kSteps) << "at step " << step;
    }
    EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, step, estimator.total_steps()),
                     ScheduledLearningRate(spec, step, kSteps))
        << "at step " << step;
  }
  estimator.Observe(kBudget, kSteps);
  EXPECT_EQ(estimator.total_steps(), kSteps + 1) << "at the deadline: never below the next step";
  EXPECT_LT(ScheduledLearningRate(spec, kSteps - 1, kSteps), 1e-4) << "the cosine has ended";
}

// Until a step is taken there is no rate, and the schedule is the epoch
// budget's; time before the first step (workers joining) is not a rate of 0.
TEST(ScheduleEstimateTest, TimeBeforeTheFirstStepIsNotMeasured) {
  ScheduleEstimator estimator(Options(100, /*max_steps=*/5000));
  for (int t = 0; t <= 30; ++t) estimator.Observe(t, 0);
  EXPECT_EQ(estimator.total_steps(), 5000);
  EXPECT_FALSE(estimator.steps_per_s().has_value());
  estimator.Observe(31, 2);
  EXPECT_DOUBLE_EQ(*estimator.steps_per_s(), 2.0);
  EXPECT_EQ(estimator.total_steps(), 2 + 2 * 69);
}

// A second worker doubles the rate halfway: the estimate follows within a
// few smoothing times (a tenth of the budget), and the schedule ends with
// the time, not with the old rate's guess.
TEST(ScheduleEstimateTest, FollowsAChangeOfRate) {
  constexpr double kBudget = 200;
  ScheduleEstimator estimator(Options(kBudget));
  int64_t steps = 0;
  for (int t = 0; t <= 200; ++t) {
    estimator.Observe(t, steps);
    if (t == 99) {
      EXPECT_EQ(estimator.total_steps(), 400) << "2 steps/s for 200 s";
    } else if (t == 180) {
      EXPECT_NEAR(estimator.total_steps(), 600, 6) << "2 steps/s for 100 s, then 4";
    } else if (t == 199) {
      EXPECT_NEAR(estimator.total_steps(), 600, 1);
    }
    steps += t < 100 ? 2 : 4;
  }
  EXPECT_EQ(estimator.total_steps(), steps - 4 + 1) << "at the deadline, the next step is the last";
}

// A second without a step (a slow task, a worker rejoining) does not swing
// the schedule: the rate averages over the smoothing time.
TEST(ScheduleEstimateTest, SmoothsAHiccup) {
  ScheduleEstimator estimator(Options(600));  // Smoothing: 60 s.
  for (int t = 0; t <= 120; ++t) estimator.Observe(t, 3 * t);
  const int64_t before = estimator.total_steps();
  EXPECT_EQ(before, 1800);
  estimator.Observe(121, 360);
  EXPECT_LT(std::abs(estimator.total_steps() - before), before / 50);
}

// A resumed run assumes the average rate of its earlier part (its time,
// the stop between checkpoint and restart left out) until it has measured
// its own, and then ends at the same place as a run that never stopped.
TEST(ScheduleEstimateTest, AResumedRunGoesOnFromItsAverageRate) {
  ScheduleEstimator uninterrupted(Options(100));
  for (int t = 0; t <= 50; ++t) uninterrupted.Observe(t, 2 * t);
  ScheduleEstimator resumed(Options(100));
  resumed.Resume(50, 100);
  EXPECT_EQ(resumed.total_steps(), uninterrupted.total_steps());
  EXPECT_EQ(resumed.total_steps(), 200);
  for (int t = 51; t <= 99; ++t) {
    uninterrupted.Observe(t, 2 * t);
    resumed.Observe(t, 2 * t);
    EXPECT_EQ(resumed.total_steps(), 200) << "at " << t << " s";
  }

  // A run that spent its first 10 s waiting for workers: 100 steps in
  // 60 s, really at 2/s. The estimate starts low and converges.
  ScheduleEstimator slow_start(Options(100));
  slow_start.Resume(60, 100);
  EXPECT_EQ(slow_start.total_steps(), 167);  // 100 + 100/60 * 40.
  for (int t = 61; t <= 90; ++t) slow_start.Observe(t, 100 + 2 * (t - 60));
  EXPECT_NEAR(slow_start.total_steps(), 180, 1);
}

TEST(ScheduleEstimateTest, StaysBetweenTheNextStepAndTheEpochBudget) {
  ScheduleEstimator estimator(Options(10, /*max_steps=*/50));
  estimator.Observe(0, 0);
  estimator.Observe(1, 10);
  EXPECT_EQ(estimator.total_steps(), 50) << "10 steps/s for 10 s is more than the epochs hold";

  ScheduleEstimator late(Options(10, /*max_steps=*/50));
  late.Observe(0, 0);
  late.Observe(9, 9);
  late.Observe(9.5, 12);  // Within the minimum interval: not measured...
  EXPECT_EQ(late.total_steps(), 13) << "...but the schedule still reaches past the steps taken";
  late.Observe(12, 14);  // Past the deadline.
  EXPECT_EQ(late.total_steps(), 15);
}

}  // namespace
}  // namespace tributary::coordinator
