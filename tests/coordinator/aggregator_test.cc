#include "coordinator/aggregator.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::AggregationSpec;
using tributary::v1::OptimizerSpec;

AggregatorOptions PlainSgd(float lr, float momentum, bool nesterov) {
  AggregatorOptions options;
  options.optimizer.set_lr(lr);
  options.optimizer.set_momentum(momentum);
  options.optimizer.set_nesterov(nesterov);
  options.optimizer.set_schedule(OptimizerSpec::CONSTANT);
  options.aggregation.set_max_staleness(2);
  options.aggregation.set_weighting(AggregationSpec::CONSTANT);
  options.total_steps = 100;
  return options;
}

TEST(AggregatorTest, PlainSgdStep) {
  Aggregator agg(PlainSgd(0.5f, 0.0f, false), {1.0f, 2.0f});
  ASSERT_EQ(*agg.Apply(std::vector<float>{2.0f, -4.0f}, 0), 1u);
  EXPECT_FLOAT_EQ(agg.params()[0], 0.0f);
  EXPECT_FLOAT_EQ(agg.params()[1], 4.0f);
}

// Hand-computed: v1 = g1, w1 = w0 - lr (g1 + mu v1); v2 = mu v1 + g2, ...
TEST(AggregatorTest, NesterovMomentumMatchesHandComputation) {
  Aggregator agg(PlainSgd(0.1f, 0.9f, true), {1.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());
  EXPECT_NEAR(agg.params()[0], 1.0 - 0.1 * (1.0 + 0.9 * 1.0), 1e-6);
  ASSERT_TRUE(agg.Apply(std::vector<float>{2.0f}, 1).ok());
  const double v2 = 0.9 * 1.0 + 2.0;
  EXPECT_NEAR(agg.params()[0], 0.81 - 0.1 * (2.0 + 0.9 * v2), 1e-6);
}

TEST(AggregatorTest, HeavyBallMomentum) {
  Aggregator agg(PlainSgd(0.1f, 0.5f, false), {0.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 1).ok());
  EXPECT_NEAR(agg.params()[0], -0.1 * 1.0 - 0.1 * 1.5, 1e-6);
}

TEST(AggregatorTest, StaleUpdatesAreRejectedWithoutChangingTheModel) {
  Aggregator agg(PlainSgd(1.0f, 0.0f, false), {0.0f});
  for (uint64_t v = 0; v < 3; ++v) ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, v).ok());
  EXPECT_TRUE(agg.CheckStaleness(1).ok()) << "staleness 2 == bound";
  const absl::StatusOr<uint64_t> stale = agg.Apply(std::vector<float>{100.0f}, 0);
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_EQ(agg.version(), 3u);
  EXPECT_FLOAT_EQ(agg.params()[0], -3.0f);
  EXPECT_TRUE(absl::IsInvalidArgument(agg.CheckStaleness(4)));
}

TEST(AggregatorTest, InverseStalenessWeighting) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.aggregation.set_weighting(AggregationSpec::INVERSE);
  Aggregator agg(options, {0.0f});
  EXPECT_DOUBLE_EQ(agg.StalenessWeight(0), 1.0);
  EXPECT_DOUBLE_EQ(agg.StalenessWeight(3), 0.25);
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());  // staleness 1: half weight
  EXPECT_FLOAT_EQ(agg.params()[0], -1.5f);
}

TEST(AggregatorTest, CosineScheduleWithWarmup) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.optimizer.set_schedule(OptimizerSpec::COSINE);
  options.optimizer.set_warmup_steps(10);
  options.total_steps = 110;
  Aggregator agg(options, {0.0f});
  EXPECT_DOUBLE_EQ(agg.LearningRate(0), 0.1);
  EXPECT_DOUBLE_EQ(agg.LearningRate(9), 1.0);
  EXPECT_DOUBLE_EQ(agg.LearningRate(10), 1.0);
  EXPECT_NEAR(agg.LearningRate(60), 0.5, 1e-12);
  EXPECT_NEAR(agg.LearningRate(110), 0.0, 1e-12);
  EXPECT_NEAR(agg.LearningRate(500), 0.0, 1e-12);
}

TEST(AggregatorTest, WeightDecayIsCoupled) {
  AggregatorOptions options = PlainSgd(0.1f, 0.0f, false);
  options.optimizer.set_weight_decay(0.5f);
  Aggregator agg(options, {2.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{0.0f}, 0).ok());
  EXPECT_FLOAT_EQ(agg.params()[0], 2.0f - 0.1f * 0.5f * 2.0f);
}

TEST(AggregatorTest, AdamWStepsWithBiasCorrectionAndStalenessWeight) {
  AggregatorOptions options = PlainSgd(0.1f, 0.0f, false);
  options.optimizer.set_kind(OptimizerSpec::ADAMW);
  options.aggregation.set_weighting(AggregationSpec::INVERSE);
  Aggregator agg(options, {0.0f, 0.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{4.0f, -0.5f}, 0).ok());
  // The first bias-corrected Adam step is lr * sign(g), whatever the scale.
  EXPECT_NEAR(agg.params()[0], -0.1f, 1e-5);
  EXPECT_NEAR(agg.params()[1], 0.1f, 1e-5);
  // A stale update scaled by 1/2 gives the same as AdamW fed the halved gradient.
  ASSERT_TRUE(agg.Apply(std::vector<float>{2.0f, 2.0f}, 0).ok());
  AdamW reference(AdamWOptions{}, 2);
  std::vector<float> expected = {0.0f, 0.0f};
  reference.Step(absl::MakeSpan(expected), std::vector<float>{4.0f, -0.5f}, 0.1f);
  reference.Step(absl::MakeSpan(expected), std::vector<float>{1.0f, 1.0f}, 0.1f);
  EXPECT_NEAR(agg.params()[0], expected[0], 1e-6);
  EXPECT_NEAR(agg.params()[1], expected[1], 1e-6);
}

TEST(AggregatorTest, ClipsTheGradientNormBeforeStepping) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.optimizer.set_clip_norm(1.0f);
  Aggregator agg(options, {0.0f, 0.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{30.0f, 40.0f}, 0).ok());
  EXPECT_NEAR(agg.params()[0], -0.6f, 1e-6);
  EXPECT_NEAR(agg.params()[1], -0.8f, 1e-6);
}

TEST(AggregatorTest, WrongSizeIsInvalid) {
  Aggregator agg(PlainSgd(1.0f, 0.0f, false), {0.0f, 0.0f});
  EXPECT_TRUE(absl::IsInvalidArgument(agg.Apply(std::vector<float>{1.0f}, 0).status()));
  EXPECT_EQ(agg.version(), 0u);
}

}  // namespace
}  // namespace tributary::coordinator
