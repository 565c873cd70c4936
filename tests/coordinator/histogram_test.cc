#include "coordinator/histogram.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

// Buckets are "less than or equal": a value on a bound counts in it.
TEST(HistogramTest, ValuesLandInTheFirstBucketAtOrAboveThem) {
  const double bounds[] = {1, 2, 5};
  Histogram h(bounds);
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 5.0, 9.0}) h.Observe(v);
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{2, 2, 2, 1}));
  EXPECT_EQ(h.count(), 7);
  EXPECT_DOUBLE_EQ(h.sum(), 23);
}

TEST(HistogramTest, NegativeNanAndInfiniteValuesAreBounded) {
  const double bounds[] = {1};
  Histogram h(bounds);
  h.Observe(-3);
  h.Observe(std::nan(""));
  h.Observe(std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(h.count(), 3);
  EXPECT_EQ(h.sum(), 0) << "the sum stays finite";
}

TEST(HistogramTest, TheSecondsBucketsAscend) {
  Histogram h;
  ASSERT_EQ(h.counts().size(), h.bounds().size() + 1);
  for (size_t i = 1; i < h.bounds().size(); ++i) EXPECT_LT(h.bounds()[i - 1], h.bounds()[i]);
}

}  // namespace
}  // namespace tributary::coordinator
