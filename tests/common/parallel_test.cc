#include "common/parallel.h"

#include <omp.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

using Pieces = std::vector<std::pair<int64_t, int64_t>>;

Pieces Split(int threads, int64_t n, int64_t cost) {
  std::mutex mu;
  Pieces pieces;
  ParallelFor(threads, n, cost, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mu);
    pieces.emplace_back(begin, end);
  });
  std::sort(pieces.begin(), pieces.end());
  return pieces;
}

TEST(ParallelTest, PiecesCoverTheRangeOnceInOrder) {
  const Pieces pieces = Split(3, 1000, 1000);
  ASSERT_EQ(pieces.size(), 3u);
  int64_t next = 0;
  for (const auto& [begin, end] : pieces) {
    EXPECT_EQ(begin, next);
    EXPECT_LT(begin, end);
    next = end;
  }
  EXPECT_EQ(next, 1000);
  EXPECT_EQ(Split(3, 1000, 1000), pieces) << "the same split every time";
}

TEST(ParallelTest, SmallWorkRunsAsOnePiece) {
  EXPECT_EQ(Split(4, 10, 1), (Pieces{{0, 10}}));
  EXPECT_EQ(Split(4, 0, 1 << 20), Pieces{});
  EXPECT_EQ(Split(4, 2, 1 << 20).size(), 2u) << "never more pieces than items";
}

TEST(ParallelTest, OneThreadIsOnePiece) {
  EXPECT_EQ(Split(1, 1 << 20, 1 << 10), (Pieces{{0, 1 << 20}}));
  EXPECT_EQ(Split(0, 1 << 20, 1 << 10), (Pieces{{0, 1 << 20}})) << "0 counts as 1";
}

// The count Eigen's products read is the calling thread's own: one thread
// choosing one core (the coordinator's evaluation) leaves another's alone.
TEST(ParallelTest, ScopedEigenThreadsSetsTheCallingThreadOnly) {
  const int before = omp_get_max_threads();
  int other = 0;
  {
    const ScopedEigenThreads one(1);
    EXPECT_EQ(omp_get_max_threads(), 1);
    std::thread([&] {
      const ScopedEigenThreads three(3);
      other = omp_get_max_threads();
    }).join();
    EXPECT_EQ(omp_get_max_threads(), 1);
  }
  EXPECT_EQ(other, 3);
  EXPECT_EQ(omp_get_max_threads(), before) << "restored";
}

}  // namespace
}  // namespace tributary
