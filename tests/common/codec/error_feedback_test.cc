#include "common/codec/error_feedback.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/codec/topk.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

double Norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// A fixed sequence of updates: a constant direction plus noise, the shape
// of a gradient stream.
std::vector<std::vector<float>> Sequence(size_t n, int steps) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<float> mean(n);
  for (float& x : mean) x = normal(rng);
  std::vector<std::vector<float>> seq(steps, std::vector<float>(n));
  for (auto& update : seq) {
    for (size_t i = 0; i < n; ++i) update[i] = mean[i] + normal(rng);
  }
  return seq;
}

// ||sum sent - sum true|| / ||sum true|| after the whole sequence.
double RelativeDrift(const Codec& codec, Encoder& encoder, const std::vector<std::vector<float>>& seq,
                     const ErrorFeedbackEncoder* ef) {
  const size_t n = codec.size();
  std::vector<double> sent(n, 0.0), truth(n, 0.0);
  std::vector<float> decoded(n);
  for (const auto& update : seq) {
    EXPECT_TRUE(codec.Decode(encoder.Encode(update), absl::MakeSpan(decoded)).ok());
    for (size_t i = 0; i < n; ++i) {
      sent[i] += decoded[i];
      truth[i] += update[i];
    }
  }
  std::vector<double> gap(n);
  for (size_t i = 0; i < n; ++i) gap[i] = sent[i] - truth[i];
  if (ef != nullptr) {
    // The identity behind error feedback: what is missing is the residual.
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(gap[i], -ef->residual()[i], 1e-3 * (1 + std::abs(truth[i])));
  }
  return Norm(gap) / Norm(truth);
}

TEST(ErrorFeedbackTest, SumOfSentUpdatesConvergesToSumOfTrueUpdates) {
  constexpr size_t kN = 500;
  const TopKCodec codec(10, ValueCoding{}, kN);  // 2 % of the values per update.
  double previous = std::numeric_limits<double>::infinity();
  for (int steps : {50, 200, 800}) {
    const auto seq = Sequence(kN, steps);
    ErrorFeedbackEncoder ef(codec, codec.NewEncoder());
    const double with_ef = RelativeDrift(codec, ef, seq, &ef);
    const std::unique_ptr<Encoder> plain = codec.NewEncoder();
    const double without = RelativeDrift(codec, *plain, seq, nullptr);
    // Without feedback most of every update is lost for good; with it the
    // gap is one bounded residual, shrinking relative to the growing sum.
    EXPECT_GT(without, 0.5) << steps;
    EXPECT_LT(with_ef, previous) << steps;
    previous = with_ef;
  }
  EXPECT_LT(previous, 0.1);
}

TEST(ErrorFeedbackTest, ANonFiniteUpdateDoesNotPoisonTheNextOnes) {
  const TopKCodec codec(2, ValueCoding{}, 4);
  ErrorFeedbackEncoder ef(codec, codec.NewEncoder());
  ef.Encode(std::vector<float>{1, 2, 3, 4});
  ef.Encode(std::vector<float>{1, std::numeric_limits<float>::quiet_NaN(), 3, 4});
  for (float r : ef.residual()) EXPECT_EQ(r, 0.0f);
  std::vector<float> decoded(4);
  EXPECT_TRUE(codec.Decode(ef.Encode(std::vector<float>{1, 2, 3, 4}), absl::MakeSpan(decoded)).ok());
}

}  // namespace
}  // namespace tributary
