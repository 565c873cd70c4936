#include "common/optim/optimizer.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::OptimizerSpec;

OptimizerSpec Spec(OptimizerSpec::Schedule schedule, int warmup) {
  OptimizerSpec spec;
  spec.set_lr(2.0f);
  spec.set_schedule(schedule);
  spec.set_warmup_steps(warmup);
  return spec;
}

TEST(ScheduleTest, LinearWarmupThenCosineToZero) {
  const OptimizerSpec spec = Spec(OptimizerSpec::COSINE, 4);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 0, 104), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 3, 104), 2.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 4, 104), 2.0);
  EXPECT_NEAR(ScheduledLearningRate(spec, 54, 104), 1.0, 1e-12);  // Halfway: cos(pi/2).
  EXPECT_NEAR(ScheduledLearningRate(spec, 104, 104), 0.0, 1e-12);
  EXPECT_NEAR(ScheduledLearningRate(spec, 500, 104), 0.0, 1e-12) << "stays at the end";
}

TEST(ScheduleTest, ConstantAfterWarmup) {
  const OptimizerSpec spec = Spec(OptimizerSpec::CONSTANT, 2);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 1, 10), 2.0);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(spec, 9, 10), 2.0);
}

// Clip to norm 1 first (3,4 -> 0.6,0.8), then scale by 0.5, then plain SGD.
TEST(OptimizerTest, ClipsThenScalesThenSteps) {
  OptimizerSpec spec;
  spec.set_kind(OptimizerSpec::SGD);
  spec.set_momentum(0.0f);
  spec.set_clip_norm(1.0f);
  Optimizer optimizer(spec, 2);
  std::vector<float> w = {1.0f, 1.0f}, g = {3.0f, 4.0f};
  optimizer.Step(absl::MakeSpan(w), absl::MakeSpan(g), 0.1f, 0.5f);
  EXPECT_FLOAT_EQ(w[0], 1.0f - 0.1f * 0.5f * 0.6f);
  EXPECT_FLOAT_EQ(w[1], 1.0f - 0.1f * 0.5f * 0.8f);
}

// AdamW's first step moves every weight by lr (m^ / sqrt(v^) = sign(g)).
TEST(OptimizerTest, AdamWFirstStepIsSignTimesLr) {
  OptimizerSpec spec;
  spec.set_kind(OptimizerSpec::ADAMW);
  Optimizer optimizer(spec, 2);
  std::vector<float> w = {0.0f, 0.0f}, g = {5.0f, -0.1f};
  optimizer.Step(absl::MakeSpan(w), absl::MakeSpan(g), 0.01f);
  EXPECT_NEAR(w[0], -0.01f, 1e-6);
  EXPECT_NEAR(w[1], 0.01f, 1e-6);
  // A staleness scale shrinks AdamW's step, not its (normalised) gradient.
  Optimizer scaled(spec, 2);
  w = {0.0f, 0.0f};
  g = {5.0f, -0.1f};
  scaled.Step(absl::MakeSpan(w), absl::MakeSpan(g), 0.01f, 0.25f);
  EXPECT_NEAR(w[0], -0.0025f, 1e-7);
  EXPECT_NEAR(w[1], 0.0025f, 1e-7);
}

// Delayed Nesterov: three updates with momentum_period 3 end where one
// plain Nesterov step on their mean ends, period after period; in between,
// each update moves the weights by lr / 3 without momentum.
TEST(OptimizerTest, DelayedNesterovMatchesNesterovOnThePeriodMean) {
  OptimizerSpec nesterov;
  nesterov.set_momentum(0.9f);
  nesterov.set_nesterov(true);
  OptimizerSpec delayed = nesterov;
  delayed.set_momentum_period(3);
  Optimizer sync(nesterov, 2), async(delayed, 2);
  std::vector<float> w_sync = {1.0f, -1.0f}, w_async = w_sync;
  const float lr = 0.5f;
  const std::vector<std::vector<float>> updates = {{1, 2}, {3, -2}, {-1, 6}, {0.5f, 0.5f}, {2, 1}, {-4, 0}};
  for (size_t period = 0; period < 2; ++period) {
    std::vector<float> mean = {0, 0};
    for (size_t i = 0; i < 3; ++i) {
      const std::vector<float>& u = updates[3 * period + i];
      const std::vector<float> before = w_async;
      std::vector<float> g = u;
      async.Step(absl::MakeSpan(w_async), absl::MakeSpan(g), lr);
      if (i < 2) {
        for (int j = 0; j < 2; ++j) EXPECT_FLOAT_EQ(w_async[j], before[j] - lr / 3 * u[j]);
      }
      for (int j = 0; j < 2; ++j) mean[j] += u[j] / 3;
    }
    sync.Step(absl::MakeSpan(w_sync), absl::MakeSpan(mean), lr);
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(w_async[j], w_sync[j], 1e-5) << "period " << period << " coordinate " << j;
  }
}

}  // namespace
}  // namespace tributary
