#include "common/optim/delay_stability.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tributary {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(DelayStabilityTest, WithoutDelayMatchesHeavyBallBound) {
  for (double beta : {0.0, 0.5, 0.9, 0.95}) {
    EXPECT_NEAR(StableCurvature(beta, 0), 2 * (1 + beta) / (1 - beta), 1e-4 * (1 + beta) / (1 - beta))
        << "beta " << beta;
  }
}

TEST(DelayStabilityTest, WithoutMomentumMatchesDelayedGradientBound) {
  // x_{t+1} = x_t - a x_{t-d} is stable iff a < 2 sin(pi / (2 (2d + 1))).
  for (int delay : {1, 2, 3, 7}) {
    EXPECT_NEAR(StableCurvature(0.0, delay), 2 * std::sin(kPi / (2 * (2 * delay + 1))), 1e-5)
        << "delay " << delay;
  }
}

TEST(DelayStabilityTest, SpectralRadiusOnBothSidesOfTheBound) {
  const double bound = StableCurvature(0.9, 3);
  EXPECT_LT(DelayedMomentumSpectralRadius(0.99 * bound, 0.9, 3), 1.0);
  EXPECT_GT(DelayedMomentumSpectralRadius(1.01 * bound, 0.9, 3), 1.0);
}

TEST(DelayStabilityTest, OneStepOfDelayCostsMomentumItsWholeMargin) {
  // Momentum widens the stable range 19x (2 -> 38 at beta 0.9); a single
  // step of staleness takes all of that away and more.
  EXPECT_GT(StableCurvature(0.9, 0), 35.0);
  EXPECT_LT(StableCurvature(0.9, 1), 1.01);
  EXPECT_LT(StableCurvature(0.9, 7), StableCurvature(0.0, 7));
}

}  // namespace
}  // namespace tributary
