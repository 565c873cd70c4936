#include "common/models/sampling.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

const std::vector<float> kLogits = {0.0f, 2.0f, 1.0f, 2.0f, -1.0f};

TEST(SamplingTest, ZeroTemperatureIsGreedyAndTiesGoLow) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(SampleToken(kLogits, {0.0, 0}, rng), 1);
  EXPECT_EQ(SampleToken(kLogits, {1.0, 1}, rng), 1) << "top-1 is greedy too";
}

TEST(SamplingTest, TopKNeverLeavesTheTopK) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 2000; ++i) {
    const int token = SampleToken(kLogits, {5.0, 3}, rng);
    EXPECT_TRUE(token == 1 || token == 2 || token == 3) << token;
  }
}

// At temperature 1 over all tokens, frequencies follow the softmax: here
// p(1) = e^2 / (1 + 2 e^2 + e + e^-1) = 0.395.
TEST(SamplingTest, FrequenciesFollowTheSoftmax) {
  std::mt19937_64 rng(3);
  const int draws = 20000;
  int ones = 0;
  for (int i = 0; i < draws; ++i) ones += SampleToken(kLogits, {1.0, 0}, rng) == 1;
  const double e = std::exp(1.0);
  const double expected = e * e / (1 + 2 * e * e + e + 1 / e);
  EXPECT_NEAR(static_cast<double>(ones) / draws, expected, 0.015);
}

TEST(SamplingTest, SameSeedSameDraws) {
  std::mt19937_64 a(9), b(9);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(SampleToken(kLogits, {}, a), SampleToken(kLogits, {}, b));
}

}  // namespace
}  // namespace tributary
