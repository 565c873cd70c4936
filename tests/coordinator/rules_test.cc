// The aggregation rules against hand-computed results, including their
// breakdown points.
#include "coordinator/rules.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

constexpr int kThreads = 1;

// Updates of one coordinate each (plus a second that mirrors it, negated).
struct Buffer {
  explicit Buffer(const std::vector<float>& values) {
    for (float v : values) storage.push_back({v, -v});
    for (const auto& s : storage) updates.push_back(s);
  }
  std::vector<std::vector<float>> storage;
  Updates updates;
};

TEST(RulesTest, Mean) {
  Buffer b({1, 2, 6});
  std::vector<float> out(2);
  MeanRule(b.updates, absl::MakeSpan(out));
  EXPECT_EQ(out, (std::vector<float>{3, -3}));
}

// β = 0.2 of 10 trims 2 from each end: the two attackers, however large,
// are ignored exactly; what remains is the honest 3..8.
TEST(RulesTest, TrimmedMeanIgnoresTwoOfTenArbitraryUpdates) {
  const struct {
    float attack, expected;
  } cases[] = {{1e9f, (3 + 4 + 5 + 6 + 7 + 8) / 6.0f},
               {-1e9f, (1 + 2 + 3 + 4 + 5 + 6) / 6.0f},
               {4.5f, (3 + 4 + 4.5f + 4.5f + 5 + 6) / 6.0f}};
  for (const auto& c : cases) {
    Buffer b({1, 2, 3, 4, 5, 6, 7, 8, c.attack, c.attack});
    std::vector<float> out(2);
    TrimmedMeanRule(kThreads, b.updates, 2, absl::MakeSpan(out));
    EXPECT_FLOAT_EQ(out[0], c.expected) << c.attack;
    EXPECT_FLOAT_EQ(out[1], -c.expected) << c.attack;
  }
  // Three attackers are one too many: the result leaves the honest range.
  Buffer b({1, 2, 3, 4, 5, 6, 7, 1e9f, 1e9f, 1e9f});
  std::vector<float> out(2);
  TrimmedMeanRule(kThreads, b.updates, 2, absl::MakeSpan(out));
  EXPECT_GT(out[0], 1e8f);
}

TEST(RulesTest, MedianOddEvenAndBreakdown) {
  std::vector<float> out(2);
  MedianRule(kThreads, Buffer({5, 1, 3}).updates, absl::MakeSpan(out));
  EXPECT_EQ(out, (std::vector<float>{3, -3}));
  MedianRule(kThreads, Buffer({4, 1, 3, 2}).updates, absl::MakeSpan(out));
  EXPECT_EQ(out, (std::vector<float>{2.5, -2.5}));
  // 4 of 9 attackers: the median is still an honest value.
  MedianRule(kThreads, Buffer({1, 2, 3, 4, 5, 1e9f, 1e9f, 1e9f, 1e9f}).updates, absl::MakeSpan(out));
  EXPECT_EQ(out[0], 5);
}

// One iteration from center c: v = c + mean((u_i - c) min(1, τ/|u_i - c|)).
TEST(RulesTest, CenteredClipMovesOutliersByAtMostTau) {
  Buffer b({0, 0, 0, 100});
  const std::vector<float> center = {0, 0};
  std::vector<float> out(2);
  // |u - c| for the outlier is 100 * sqrt(2); clipped to τ = sqrt(2) it
  // contributes (1, -1), so v = (1/4, -1/4).
  CenteredClipRule(b.updates, center, std::sqrt(2.0), 1, absl::MakeSpan(out));
  EXPECT_FLOAT_EQ(out[0], 0.25f);
  EXPECT_FLOAT_EQ(out[1], -0.25f);
  // With τ above every distance it is the mean after one iteration.
  CenteredClipRule(b.updates, center, 1e6, 1, absl::MakeSpan(out));
  EXPECT_FLOAT_EQ(out[0], 25.0f);
  // Honest updates close together pull the result to them; a x100 outlier
  // cannot drag it further than τ/K per iteration.
  Buffer h({1.0f, 1.1f, 0.9f, 1.0f, 100.0f});
  CenteredClipRule(h.updates, center, 0.5, 10, absl::MakeSpan(out));
  EXPECT_NEAR(out[0], 1.0f, 0.5 * 10 / 5 + 1e-5);
  EXPECT_LT(out[0], 2.1f);
}

// Large enough that the per-coordinate rules split across threads: the
// result is the same whatever the count, bit for bit.
TEST(RulesTest, ThreadCountDoesNotChangeTheResult) {
  const uint32_t seed = 20260102;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> storage(7, std::vector<float>(1 << 14));
  Updates updates;
  for (auto& u : storage) {
    for (float& v : u) v = normal(rng);
    updates.push_back(u);
  }
  const size_t n = storage[0].size();
  std::vector<float> median1(n), median3(n), trimmed1(n), trimmed3(n);
  MedianRule(1, updates, absl::MakeSpan(median1));
  MedianRule(3, updates, absl::MakeSpan(median3));
  TrimmedMeanRule(1, updates, 2, absl::MakeSpan(trimmed1));
  TrimmedMeanRule(3, updates, 2, absl::MakeSpan(trimmed3));
  EXPECT_EQ(median3, median1) << "seed " << seed;
  EXPECT_EQ(trimmed3, trimmed1) << "seed " << seed;
}

}  // namespace
}  // namespace tributary::coordinator
