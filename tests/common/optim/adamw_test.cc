#include "common/optim/adamw.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

// The reference formula, in double, one scalar at a time.
struct ScalarAdamW {
  double w, m = 0, v = 0;
  int t = 0;
  void Step(double g, double lr, const AdamWOptions& o) {
    ++t;
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g * g;
    const double mhat = m / (1 - std::pow(o.beta1, t)), vhat = v / (1 - std::pow(o.beta2, t));
    w -= lr * (mhat / (std::sqrt(vhat) + o.eps) + o.weight_decay * w);
  }
};

TEST(AdamWTest, MatchesTheReferenceFormulaOverManySteps) {
  AdamWOptions options;
  options.weight_decay = 0.1f;
  std::vector<float> params = {1.0f, -2.0f, 0.5f};
  std::vector<ScalarAdamW> reference = {{1.0}, {-2.0}, {0.5}};
  AdamW adamw(options, params.size());
  for (int step = 0; step < 50; ++step) {
    const std::vector<float> grads = {std::sin(step * 0.3f), 0.1f * step, -1.0f};
    const float lr = 0.01f * (1 + step % 3);
    adamw.Step(absl::MakeSpan(params), grads, lr);
    for (size_t i = 0; i < params.size(); ++i) reference[i].Step(grads[i], lr, options);
  }
  EXPECT_EQ(adamw.steps(), 50);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_NEAR(params[i], reference[i].w, 1e-5) << i;
}

TEST(AdamWTest, FirstStepMovesEachWeightByAboutTheLearningRate) {
  AdamW adamw(AdamWOptions{}, 2);
  std::vector<float> params = {0.0f, 0.0f};
  adamw.Step(absl::MakeSpan(params), std::vector<float>{1000.0f, -0.001f}, 0.1f);
  EXPECT_NEAR(params[0], -0.1f, 1e-5) << "bias correction makes the first step lr * sign(g)";
  EXPECT_NEAR(params[1], 0.1f, 1e-4);
}

TEST(AdamWTest, WeightDecayIsDecoupledFromTheGradient) {
  AdamWOptions options;
  options.weight_decay = 0.5f;
  AdamW adamw(options, 1);
  std::vector<float> params = {2.0f};
  adamw.Step(absl::MakeSpan(params), std::vector<float>{0.0f}, 0.1f);
  EXPECT_FLOAT_EQ(params[0], 2.0f - 0.1f * 0.5f * 2.0f);
}

TEST(ClipGradNormTest, ScalesDownOnlyAboveTheBound) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(ClipGradNorm(absl::MakeSpan(g), 10.0), 5.0);
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(ClipGradNorm(absl::MakeSpan(g), 1.0), 5.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
}

}  // namespace
}  // namespace tributary
