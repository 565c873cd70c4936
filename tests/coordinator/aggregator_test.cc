#include "coordinator/aggregator.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/codec/codec.h"
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
  // The rules in isolation; the default norm guard has tests of its own.
  options.aggregation.set_norm_check_factor(0);
  options.total_steps = 100;
  return options;
}

TEST(AggregatorTest, PlainSgdStep) {
  Aggregator agg(PlainSgd(0.5f, 0.0f, false), {1.0f, 2.0f});
  ASSERT_EQ(agg.Apply(std::vector<float>{2.0f, -4.0f}, 0)->version, 1u);
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
  const absl::StatusOr<Accepted> stale = agg.Apply(std::vector<float>{100.0f}, 0);
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

// A new leader numbers its versions after its predecessor's (SkipTo); the
// schedule goes on from the steps taken, and a checkpoint keeps the count.
TEST(AggregatorTest, SkippedVersionsDoNotMoveTheSchedule) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.optimizer.set_schedule(OptimizerSpec::COSINE);
  options.total_steps = 4;
  Aggregator agg(options, {0.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());  // Step 0: lr 1.
  EXPECT_FLOAT_EQ(agg.params()[0], -1.0f);
  agg.SkipTo(10);
  agg.SkipTo(5);  // Never back.
  EXPECT_EQ(agg.version(), 10u);
  EXPECT_EQ(agg.steps(), 1u);
  ASSERT_EQ(agg.Apply(std::vector<float>{1.0f}, 10)->version, 11u);  // Step 1: lr cos(pi/4)^2 = 0.85355.
  EXPECT_NEAR(agg.params()[0], -1.0f - agg.LearningRate(1), 1e-6);
  EXPECT_EQ(agg.steps(), 2u);

  Aggregator restored(options, {0.0f});
  ASSERT_TRUE(restored.RestoreState({agg.params().begin(), agg.params().end()}, agg.SaveState()).ok());
  EXPECT_EQ(restored.version(), 11u);
  EXPECT_EQ(restored.steps(), 2u);
  tributary::v1::AggregatorState bad = agg.SaveState();
  bad.set_skipped_versions(12);
  EXPECT_FALSE(restored.RestoreState({0.0f}, bad).ok());
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
  // A stale update weighted 1/2 takes half of AdamW's step on the gradient
  // as is (halving the gradient instead would change nearly nothing).
  ASSERT_TRUE(agg.Apply(std::vector<float>{2.0f, 2.0f}, 0).ok());
  AdamW reference(AdamWOptions{}, 2);
  std::vector<float> expected = {0.0f, 0.0f};
  reference.Step(absl::MakeSpan(expected), std::vector<float>{4.0f, -0.5f}, 0.1f);
  reference.Step(absl::MakeSpan(expected), std::vector<float>{2.0f, 2.0f}, 0.05f);
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

TEST(AggregatorTest, PolynomialStalenessWeighting) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.aggregation.set_weighting(AggregationSpec::POLYNOMIAL);
  options.aggregation.set_staleness_exponent(0.5f);
  Aggregator agg(options, {0.0f});
  EXPECT_DOUBLE_EQ(agg.StalenessWeight(0), 1.0);
  EXPECT_DOUBLE_EQ(agg.StalenessWeight(3), 0.5);  // 4^-0.5
  EXPECT_DOUBLE_EQ(agg.StalenessWeight(8), 1.0 / 3.0);
}

// FedBuff: K = 3 updates make one version; each is weighted by its own
// staleness at arrival, then averaged.
TEST(AggregatorTest, BufferedUpdatesMakeOneVersion) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.aggregation.set_weighting(AggregationSpec::INVERSE);
  options.aggregation.set_buffer_size(3);
  Aggregator agg(options, {0.0f});
  for (float u : {1.0f, 2.0f}) {
    auto accepted = agg.Apply(std::vector<float>{u}, 0);
    ASSERT_TRUE(accepted.ok());
    EXPECT_FALSE(accepted->stepped);
    EXPECT_EQ(accepted->version, 0u);
  }
  EXPECT_EQ(agg.buffered(), 2);
  auto third = agg.Apply(std::vector<float>{3.0f}, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->stepped);
  EXPECT_EQ(third->version, 1u);
  EXPECT_EQ(agg.buffered(), 0);
  EXPECT_FLOAT_EQ(agg.params()[0], -2.0f);  // (1 + 2 + 3) / 3
  // Now at version 1: staleness 1, 0, 1 -> (3/2 + 2 + 1/2) / 3 = 4/3.
  ASSERT_TRUE(agg.Apply(std::vector<float>{3.0f}, 0).ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{2.0f}, 1).ok());
  auto last = agg.Apply(std::vector<float>{1.0f}, 0);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->staleness, 1u);
  EXPECT_FLOAT_EQ(agg.params()[0], -2.0f - 4.0f / 3.0f);
}

TEST(AggregatorTest, FlushAppliesAPartialBuffer) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.aggregation.set_buffer_size(4);
  Aggregator agg(options, {0.0f});
  EXPECT_FALSE(agg.Flush()) << "nothing to apply";
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 0).ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{2.0f}, 0).ok());
  EXPECT_TRUE(agg.Flush());
  EXPECT_EQ(agg.version(), 1u);
  EXPECT_EQ(agg.buffered(), 0);
  EXPECT_FLOAT_EQ(agg.params()[0], -1.5f);
}

TEST(AggregatorTest, NormCheckRejectsOutliersOnceItHasHistory) {
  AggregatorOptions options = PlainSgd(0.1f, 0.0f, false);
  options.aggregation.set_norm_check_factor(10.0f);
  options.aggregation.set_max_staleness(100);
  Aggregator agg(options, {0.0f, 0.0f});
  // Fewer than 4 norms seen: nothing to compare with yet.
  ASSERT_TRUE(agg.Apply(std::vector<float>{300.0f, 400.0f}, 0).ok());
  for (uint64_t v = 1; v <= 4; ++v) ASSERT_TRUE(agg.Apply(std::vector<float>{3.0f, 4.0f}, v).ok());
  // Median of {500, 5, 5, 5, 5} is 5: 49.9 passes, 50.1 does not.
  EXPECT_TRUE(agg.Apply(std::vector<float>{0.0f, 49.9f}, 5).ok());
  const std::vector<float> before(agg.params().begin(), agg.params().end());
  const auto rejected = agg.Apply(std::vector<float>{0.0f, 50.1f}, 6);
  EXPECT_TRUE(absl::IsOutOfRange(rejected.status())) << rejected.status();
  EXPECT_EQ(std::vector<float>(agg.params().begin(), agg.params().end()), before);
  EXPECT_EQ(agg.version(), 6u);
}

// Every honest norm grows tenfold at once (a loss spike): the first ones
// are rejected, but they fill the window, and once they are its majority
// the median has moved and updates pass again. Found as a live lock: a run
// whose norms rose rejected every update and redid the same shards forever.
// Plain SGD behind a norm check of 3x the median of `window` norms.
AggregatorOptions NormChecked(int window) {
  AggregatorOptions options = PlainSgd(0.1f, 0.0f, false);
  options.aggregation.set_norm_check_factor(3.0f);
  options.aggregation.set_norm_window(window);
  options.aggregation.set_max_staleness(1000);
  return options;
}

// Plain SGD at lr 1 over buffers of `size` combined by `rule`.
AggregatorOptions Buffered(int size, AggregationSpec::Rule rule) {
  AggregatorOptions options = PlainSgd(1.0f, 0.0f, false);
  options.aggregation.set_buffer_size(size);
  options.aggregation.set_rule(rule);
  return options;
}

// A job that names no guard still has one: a finite update a million times
// the recent norm is refused like a NaN, and the weights do not move.
TEST(AggregatorTest, TheDefaultGuardRefusesAHugeFiniteUpdate) {
  AggregatorOptions options;
  options.optimizer.set_schedule(OptimizerSpec::CONSTANT);
  options.aggregation.set_max_staleness(100);
  ASSERT_GT(options.aggregation.norm_check_factor(), 1.0f);
  Aggregator agg(options, {0.0f, 0.0f});
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(agg.Apply(std::vector<float>{0.6f, 0.8f}, agg.version()).ok());
  const std::vector<float> before(agg.params().begin(), agg.params().end());
  EXPECT_TRUE(absl::IsOutOfRange(agg.Apply(std::vector<float>{6e5f, 8e5f}, agg.version()).status()));
  EXPECT_EQ(std::vector<float>(agg.params().begin(), agg.params().end()), before);
  EXPECT_TRUE(agg.Apply(std::vector<float>{1.2f, 1.6f}, agg.version()).ok()) << "twice the norm passes";
}

TEST(AggregatorTest, NormCheckFollowsARiseOfEveryNorm) {
  Aggregator agg(NormChecked(8), {0.0f});
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, agg.version()).ok());
  int rejected = 0;
  while (rejected < 8 && !agg.Apply(std::vector<float>{10.0f}, agg.version()).ok()) ++rejected;
  // The window of 8 holds 4 tens after 4 rejections: median (1 + 10) / 2
  // = 5.5, and 10 <= 3 x 5.5.
  EXPECT_EQ(rejected, 4);
}

// A minority of outliers never gets in, however long it keeps sending.
TEST(AggregatorTest, NormCheckKeepsRejectingAMinorityOfOutliers) {
  Aggregator agg(NormChecked(10), {0.0f});
  for (int i = 0; i < 100; ++i) {
    const bool outlier = i % 5 == 4 && i >= 10;
    const auto result = agg.Apply(std::vector<float>{outlier ? 100.0f : 1.0f}, agg.version());
    EXPECT_EQ(result.ok(), !outlier) << "update " << i;
  }
}

// Two of ten contributors send x100 updates, and being rejected at once
// they send many more updates than the honest ones (seen in the Byzantine
// e2e test: one every 2.5 ms). The window keeps one norm per contributor,
// so their flood moves only their own two entries and they never get in.
// (With a window of the last updates, their norms filled it and x100
// updates passed after about half a window.)
TEST(AggregatorTest, NormCheckIsNotMovedByAFastMinority) {
  Aggregator agg(NormChecked(32), {0.0f});
  for (int round = 0; round < 20; ++round) {
    for (int honest = 0; honest < 8; ++honest) {
      ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, agg.version(), absl::StrCat("honest-", honest)).ok());
    }
    for (int burst = 0; burst < 50; ++burst) {
      for (const char* attacker : {"attacker-0", "attacker-1"}) {
        ASSERT_TRUE(absl::IsOutOfRange(agg.Apply(std::vector<float>{100.0f}, agg.version(), attacker).status()))
            << "round " << round << " burst " << burst;
      }
    }
  }
}

TEST(AggregatorTest, RobustRuleOverTheBuffer) {
  Aggregator agg(Buffered(5, AggregationSpec::MEDIAN), {0.0f});
  for (float u : {1.0f, 2.0f, 1000.0f, -1000.0f, 3.0f}) ASSERT_TRUE(agg.Apply(std::vector<float>{u}, 0).ok());
  EXPECT_EQ(agg.version(), 1u);
  EXPECT_FLOAT_EQ(agg.params()[0], -2.0f);
}

// Under a robust rule a contributor's updates in one buffer are one vote:
// "a" sends 1000 three times, b and c send 1 and 2. Median over the votes
// {1000, 1, 2} is 2; over the five arrivals it would have been 1000.
TEST(AggregatorTest, RobustRulesGiveEachContributorOneVotePerBuffer) {
  Aggregator agg(Buffered(5, AggregationSpec::MEDIAN), {0.0f});
  for (const char* who : {"a", "b", "a", "c", "a"}) {
    const float u = who[0] == 'a' ? 1000.0f : who[0] == 'b' ? 1.0f : 2.0f;
    ASSERT_TRUE(agg.Apply(std::vector<float>{u}, 0, who).ok());
  }
  EXPECT_EQ(agg.version(), 1u);
  EXPECT_FLOAT_EQ(agg.params()[0], -2.0f);
}

// A contributor's folded vote is the mean of its weighted updates: with
// 1/(1+s) weighting, a's 6 at staleness 0 and 6 at staleness 2 make
// (6 + 2) / 2 = 4; the median of {4, 1, 5} is 4.
TEST(AggregatorTest, AFoldedVoteIsTheMeanOfItsWeightedUpdates) {
  AggregatorOptions options = Buffered(4, AggregationSpec::MEDIAN);
  options.aggregation.set_max_staleness(10);
  options.aggregation.set_weighting(AggregationSpec::INVERSE);
  Aggregator agg(options, {0.0f});
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(agg.Apply(std::vector<float>{0.0f}, agg.version(), "x").ok());
  ASSERT_EQ(agg.version(), 2u);
  ASSERT_TRUE(agg.Apply(std::vector<float>{6.0f}, 2, "a").ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f}, 2, "b").ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{6.0f}, 0, "a").ok());
  ASSERT_TRUE(agg.Apply(std::vector<float>{5.0f}, 2, "c").ok());
  EXPECT_EQ(agg.version(), 3u);
  EXPECT_FLOAT_EQ(agg.params()[0], -4.0f);
}

// The mean has nothing to protect: every arrival counts, (4 + 4 + 4 + 0) / 4.
TEST(AggregatorTest, TheMeanCountsEveryUpdate) {
  Aggregator agg(Buffered(4, AggregationSpec::MEAN), {0.0f});
  for (const char* who : {"a", "a", "b", "a"}) {
    ASSERT_TRUE(agg.Apply(std::vector<float>{who[0] == 'a' ? 4.0f : 0.0f}, 0, who).ok());
  }
  EXPECT_FLOAT_EQ(agg.params()[0], -3.0f);
}

// Who sent what survives a checkpoint: after the restore, a's third
// update still folds into its vote ({1000, 1, 2}: median 2, not 501).
TEST(AggregatorTest, RestoredBufferKeepsItsContributors) {
  AggregatorOptions options = Buffered(5, AggregationSpec::MEDIAN);
  Aggregator first(options, {0.0f});
  for (const char* who : {"a", "b", "a"}) {
    ASSERT_TRUE(first.Apply(std::vector<float>{who[0] == 'a' ? 1000.0f : 1.0f}, 0, who).ok());
  }
  Aggregator resumed(options, {0.0f});
  ASSERT_TRUE(resumed.RestoreState({0.0f}, first.SaveState()).ok());
  EXPECT_EQ(resumed.buffered(), 3);
  ASSERT_TRUE(resumed.Apply(std::vector<float>{1000.0f}, 0, "a").ok());
  ASSERT_TRUE(resumed.Apply(std::vector<float>{2.0f}, 0, "c").ok());
  EXPECT_EQ(resumed.version(), 1u);
  EXPECT_FLOAT_EQ(resumed.params()[0], -2.0f);
}

// With a quorum of 3 a buffer of 3 waits for three workers: "a" alone
// (first in the run, say) sends five updates of 1000, "b" one of 1; only
// c's 2 completes it, and the median of the votes {1000, 1, 2} is 2. The
// waiting buffer, fuller than K, survives a checkpoint.
TEST(AggregatorTest, AQuorumWaitsForEnoughWorkers) {
  AggregatorOptions options = Buffered(3, AggregationSpec::MEDIAN);
  options.aggregation.set_quorum(3);
  Aggregator first(options, {0.0f});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(first.Apply(std::vector<float>{1000.0f}, 0, "a").ok());
  ASSERT_TRUE(first.Apply(std::vector<float>{1.0f}, 0, "b").ok());
  EXPECT_EQ(first.version(), 0u);
  EXPECT_EQ(first.buffered(), 6);
  Aggregator resumed(options, {0.0f});
  ASSERT_TRUE(resumed.RestoreState({0.0f}, first.SaveState()).ok());
  const auto accepted = resumed.Apply(std::vector<float>{2.0f}, 0, "c");
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->stepped);
  EXPECT_EQ(resumed.version(), 1u);
  EXPECT_FLOAT_EQ(resumed.params()[0], -2.0f);
  EXPECT_EQ(resumed.buffered(), 0);
}

// Centered clip starts from each buffer's median, not the last aggregate.
// Buffer 1: median 1; one iteration with tau 1 adds (-1 + 0 + 1 + 1 - 1) / 5
// = 0, so the step is 1. Buffer 2 (all 10): median 10, step 10. From the
// last aggregate it would have been 1 + 1 (clipped) = 2.
TEST(AggregatorTest, CenteredClipStartsFromTheBufferMedian) {
  AggregatorOptions options = Buffered(5, AggregationSpec::CENTERED_CLIP);
  options.aggregation.set_max_staleness(5);
  options.aggregation.set_clip_tau(1.0f);
  options.aggregation.set_clip_iterations(1);
  Aggregator agg(options, {0.0f});
  for (float u : {0.0f, 1.0f, 2.0f, 100.0f, -100.0f}) ASSERT_TRUE(agg.Apply(std::vector<float>{u}, 0).ok());
  EXPECT_FLOAT_EQ(agg.params()[0], -1.0f);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(agg.Apply(std::vector<float>{10.0f}, 1).ok());
  EXPECT_FLOAT_EQ(agg.params()[0], -11.0f);
}

TEST(AggregatorTest, WrongSizeIsInvalid) {
  Aggregator agg(PlainSgd(1.0f, 0.0f, false), {0.0f, 0.0f});
  EXPECT_TRUE(absl::IsInvalidArgument(agg.Apply(std::vector<float>{1.0f}, 0).status()));
  EXPECT_EQ(agg.version(), 0u);
}

// An aggregator restored from a save mid-run (mid-buffer, mid-period)
// continues bit for bit as if never interrupted.
TEST(AggregatorTest, RestoredStateContinuesExactly) {
  AggregatorOptions adamw = PlainSgd(0.01f, 0.0f, false);
  adamw.optimizer.set_kind(OptimizerSpec::ADAMW);
  AggregatorOptions delayed = PlainSgd(0.1f, 0.9f, true);
  delayed.optimizer.set_momentum_period(3);
  AggregatorOptions buffered = PlainSgd(0.1f, 0.9f, true);
  buffered.aggregation.set_buffer_size(3);
  buffered.aggregation.set_weighting(AggregationSpec::INVERSE);
  buffered.aggregation.set_norm_check_factor(100);
  for (const AggregatorOptions& options : {adamw, delayed, buffered}) {
    std::vector<std::vector<float>> updates;
    for (int i = 0; i < 10; ++i) updates.push_back({std::sin(1.0f + i), std::cos(2.0f * i), 0.1f * i});
    Aggregator whole(options, {1.0f, -1.0f, 0.5f});
    Aggregator first(options, {1.0f, -1.0f, 0.5f});
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(whole.Apply(updates[i], whole.version()).ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(first.Apply(updates[i], first.version()).ok());
    Aggregator resumed(options, {0.0f, 0.0f, 0.0f});
    ASSERT_TRUE(resumed.RestoreState(std::vector<float>(first.params().begin(), first.params().end()),
                                     first.SaveState()).ok());
    EXPECT_EQ(resumed.buffered(), first.buffered());
    for (int i = 5; i < 10; ++i) ASSERT_TRUE(resumed.Apply(updates[i], resumed.version()).ok());
    EXPECT_EQ(resumed.version(), whole.version());
    for (int j = 0; j < 3; ++j) EXPECT_EQ(resumed.params()[j], whole.params()[j]) << options.optimizer.DebugString();
  }
}

TEST(AggregatorTest, RestoreRejectsStateOfAnotherShapeAndChangesNothing) {
  AggregatorOptions options = PlainSgd(0.1f, 0.9f, false);
  options.aggregation.set_buffer_size(2);
  Aggregator agg(options, {1.0f, 2.0f});
  ASSERT_TRUE(agg.Apply(std::vector<float>{1.0f, 1.0f}, 0).ok());
  const tributary::v1::AggregatorState good = agg.SaveState();

  Aggregator target(options, {5.0f, 5.0f});
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f, 3.0f}, good).ok()) << "other model size";
  tributary::v1::AggregatorState bad = good;
  bad.mutable_optimizer()->set_momentum("short");
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f}, bad).ok());
  bad = good;
  bad.add_buffer(good.buffer(0));
  bad.add_buffer_weights(1.0);
  bad.add_buffer_contributors("b");
  bad.add_buffer_counts(1);
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f}, bad).ok()) << "a full buffer would have stepped";
  bad = good;
  bad.set_buffer_counts(0, 2);
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f}, bad).ok()) << "two updates in one vote fill the buffer";
  bad = good;
  bad.add_buffer_contributors("b");
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f}, bad).ok()) << "a contributor without an update";
  tributary::v1::AggregatorState older = good;
  older.clear_buffer_contributors();
  older.clear_buffer_counts();
  Aggregator elsewhere(options, {5.0f, 5.0f});
  EXPECT_TRUE(elsewhere.RestoreState({1.0f, 2.0f}, older).ok()) << "a checkpoint from before contributors";
  EXPECT_EQ(elsewhere.buffered(), 1);
  bad = good;
  bad.set_buffer_weights(0, 0.0);
  EXPECT_FALSE(target.RestoreState({1.0f, 2.0f}, bad).ok());
  EXPECT_EQ(target.version(), 0u);
  EXPECT_EQ(target.params()[0], 5.0f);
  EXPECT_EQ(target.buffered(), 0);
}

// Under the mean the buffer is one running sum, each update decoded and
// added in one pass (int8 fused, on two threads): the same weights, within
// rounding, as its decoded values applied one by one, at staleness
// weights below 1, through a checkpoint of a half-full buffer.
TEST(AggregatorTest, AMeanBufferOfEncodedUpdatesMatchesTheDecodedOnes) {
  const int n = 5000;
  AggregatorOptions options = Buffered(3, AggregationSpec::MEAN);
  options.aggregation.set_weighting(AggregationSpec::INVERSE);
  options.aggregation.set_max_staleness(4);
  options.threads = 2;
  tributary::v1::CodecSpec spec;
  spec.set_name("int8");
  ParamLayout layout;
  layout.Add("v", {n});
  const std::unique_ptr<Codec> codec = *CreateCodec(spec, layout);
  Aggregator encoded(options, std::vector<float>(n, 0.0f));
  Aggregator decoded(options, std::vector<float>(n, 0.0f));
  for (int u = 0; u < 8; ++u) {
    std::vector<float> update(n);
    for (int i = 0; i < n; ++i) update[i] = std::sin(0.01f * i * (u + 1));
    const std::string payload = codec->NewEncoder()->Encode(update);
    std::vector<float> values(n);
    ASSERT_TRUE(codec->Decode(payload, absl::MakeSpan(values)).ok());
    const uint64_t base = encoded.version() - std::min<uint64_t>(encoded.version(), u % 3);
    ASSERT_TRUE(encoded.Apply(EncodedUpdate(*codec, payload), base).ok());
    ASSERT_TRUE(decoded.Apply(values, base).ok());
    if (u == 4) {  // A buffer of 2 of 3 goes through a checkpoint.
      Aggregator restored(options, std::vector<float>(n, 0.0f));
      ASSERT_TRUE(restored.RestoreState(std::vector<float>(encoded.params().begin(), encoded.params().end()),
                                        encoded.SaveState()).ok());
      ASSERT_EQ(restored.buffered(), 2);
      encoded = std::move(restored);
    }
  }
  ASSERT_EQ(encoded.version(), decoded.version());
  for (int i = 0; i < n; ++i) ASSERT_NEAR(encoded.params()[i], decoded.params()[i], 1e-5f) << i;
}

}  // namespace
}  // namespace tributary::coordinator
