#include "common/codec/model_delta.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(ModelDeltaTest, RebuildsTheNewModelWithinTheInt8BoundOfTheDifference) {
  constexpr size_t kN = 1000;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> from(kN), to(kN);
  for (size_t i = 0; i < kN; ++i) {
    from[i] = normal(rng);
    to[i] = from[i] + 1e-3f * normal(rng);  // One optimizer step away.
  }
  const std::string payload = EncodeModelDelta(to, from);
  EXPECT_EQ(payload.size(), ModelDeltaBytes(kN));
  EXPECT_LT(payload.size(), kN * sizeof(float) / 3);
  std::vector<float> rebuilt(kN);
  ASSERT_TRUE(ApplyModelDelta(payload, from, absl::MakeSpan(rebuilt)).ok());
  for (size_t begin = 0; begin < kN; begin += kModelDeltaBlockSize) {
    const size_t end = std::min(kN, begin + kModelDeltaBlockSize);
    float absmax = 0;
    for (size_t i = begin; i < end; ++i) absmax = std::max(absmax, std::abs(to[i] - from[i]));
    // The int8 bound on the difference, plus float rounding of the sums.
    for (size_t i = begin; i < end; ++i) EXPECT_NEAR(rebuilt[i], to[i], absmax / 254 * 1.01f + 1e-6f) << i;
  }
}

TEST(ModelDeltaTest, RefusesWrongSizesAndNonFiniteResults) {
  const std::vector<float> from = {1, 2, 3}, to = {1.5f, 2, 2};
  const std::string payload = EncodeModelDelta(to, from);
  std::vector<float> out(3), short_out(2);
  EXPECT_TRUE(ApplyModelDelta(payload, from, absl::MakeSpan(out)).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyModelDelta(payload.substr(1), from, absl::MakeSpan(out))));
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyModelDelta(payload, from, absl::MakeSpan(short_out))));
  const std::vector<float> huge = {std::numeric_limits<float>::max(), 0, 0};
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyModelDelta(EncodeModelDelta(huge, {-3e38f, 0, 0}), huge,
                                                      absl::MakeSpan(out))));
}

}  // namespace
}  // namespace tributary
