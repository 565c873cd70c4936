#include "common/parallel.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

using Pieces = std::vector<std::pair<int64_t, int64_t>>;

Pieces Split(int64_t n, int64_t cost) {
  std::mutex mu;
  Pieces pieces;
  ParallelFor(n, cost, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mu);
    pieces.emplace_back(begin, end);
  });
  std::sort(pieces.begin(), pieces.end());
  return pieces;
}

class ParallelTest : public ::testing::Test {
 protected:
  ~ParallelTest() override { SetComputeThreads(1); }
};

TEST_F(ParallelTest, PiecesCoverTheRangeOnceInOrder) {
  SetComputeThreads(3);
  const Pieces pieces = Split(1000, 1000);
  ASSERT_EQ(pieces.size(), 3u);
  int64_t next = 0;
  for (const auto& [begin, end] : pieces) {
    EXPECT_EQ(begin, next);
    EXPECT_LT(begin, end);
    next = end;
  }
  EXPECT_EQ(next, 1000);
  EXPECT_EQ(Split(1000, 1000), pieces) << "the same split every time";
}

TEST_F(ParallelTest, SmallWorkRunsAsOnePiece) {
  SetComputeThreads(4);
  EXPECT_EQ(Split(10, 1), (Pieces{{0, 10}}));
  EXPECT_EQ(Split(0, 1 << 20), Pieces{});
  EXPECT_EQ(Split(2, 1 << 20).size(), 2u) << "never more pieces than items";
}

TEST_F(ParallelTest, OneThreadIsOnePiece) {
  SetComputeThreads(0);  // Clamped to 1.
  EXPECT_EQ(ComputeThreads(), 1);
  EXPECT_EQ(Split(1 << 20, 1 << 10), (Pieces{{0, 1 << 20}}));
}

}  // namespace
}  // namespace tributary
