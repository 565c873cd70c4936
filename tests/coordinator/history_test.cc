#include "coordinator/history.h"

#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

HistoryPoint Point(uint64_t version, bool eval) {
  HistoryPoint p;
  p.version = version;
  p.time_s = version * 0.5;
  p.samples_processed = static_cast<int64_t>(version) * 32;
  p.train_loss = 3.0 - version * 1e-4;
  if (eval) p.eval_loss = 3.1 - version * 1e-4;
  return p;
}

TEST(LossHistoryTest, KeepsEveryPointUpToItsCapacity) {
  LossHistory history(8);
  for (uint64_t v = 1; v <= 8; ++v) history.Append(Point(v, false));
  ASSERT_EQ(history.points().size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(history.points()[i].version, i + 1);
}

// A long run (100,000 points, an evaluation every 50th) stays within the
// capacity; the points stay in order, recorded ones; the newest stretch
// keeps full resolution; and evaluations survive thinning better than the
// training points around them.
TEST(LossHistoryTest, StaysBoundedAndOrderedOnALongRun) {
  constexpr size_t kCapacity = 256;
  LossHistory history(kCapacity);
  for (uint64_t v = 1; v <= 100000; ++v) {
    history.Append(Point(v, v % 50 == 0));
    ASSERT_LE(history.points().size(), kCapacity);
  }
  const std::vector<HistoryPoint>& points = history.points();
  EXPECT_GE(points.size(), kCapacity / 2);
  for (size_t i = 1; i < points.size(); ++i) ASSERT_LT(points[i - 1].version, points[i].version);
  EXPECT_EQ(points.back().version, 100000u) << "the newest point is always there";
  // The newest quarter is unthinned: consecutive versions.
  for (size_t i = points.size() - kCapacity / 4; i < points.size(); ++i) {
    EXPECT_EQ(points[i].version, points[i - 1].version + 1);
  }
  size_t evals = 0;
  for (const HistoryPoint& p : points) {
    evals += p.eval_loss.has_value();
    EXPECT_EQ(p.samples_processed, static_cast<int64_t>(p.version) * 32) << "points are recorded ones, not blends";
  }
  EXPECT_GT(static_cast<double>(evals) / points.size(), 1.0 / 50) << "evaluations are preferred";
}

// An evaluation's point is recorded when it ends, after the points of the
// versions applied meanwhile: it goes back to its version's place, after a
// training point of the same version, so curves drawn in order never turn.
TEST(LossHistoryTest, ALateEvaluationTakesItsVersionsPlace) {
  LossHistory history(64);
  for (uint64_t v = 1; v <= 10; ++v) history.Append(Point(v, false));
  history.Append(Point(7, true));
  const std::vector<HistoryPoint>& points = history.points();
  ASSERT_EQ(points.size(), 11u);
  EXPECT_EQ(points[6].version, 7u);
  EXPECT_FALSE(points[6].eval_loss.has_value());
  EXPECT_EQ(points[7].version, 7u);
  EXPECT_TRUE(points[7].eval_loss.has_value());
  EXPECT_EQ(points[8].version, 8u);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_LE(points[i - 1].samples_processed, points[i].samples_processed);
    EXPECT_LE(points[i - 1].time_s, points[i].time_s);
  }
}

// A checkpoint written before evaluations took their version's place.
TEST(LossHistoryTest, AssignPutsARestoredHistoryInVersionOrder) {
  std::vector<HistoryPoint> points;
  for (uint64_t v = 1; v <= 10; ++v) points.push_back(Point(v, false));
  points.push_back(Point(7, true));
  LossHistory history(64);
  history.Assign(points);
  ASSERT_EQ(history.points().size(), 11u);
  EXPECT_TRUE(history.points()[7].eval_loss.has_value());
  EXPECT_EQ(history.points()[10].version, 10u);
}

TEST(LossHistoryTest, AssignThinsARestoredHistory) {
  std::vector<HistoryPoint> points;
  for (uint64_t v = 1; v <= 1000; ++v) points.push_back(Point(v, false));
  LossHistory history(100);
  history.Assign(points);
  EXPECT_LE(history.points().size(), 100u);
  EXPECT_EQ(history.points().back().version, 1000u);
}

}  // namespace
}  // namespace tributary::coordinator
