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
}

}  // namespace
}  // namespace tributary
