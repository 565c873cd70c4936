#include "worker/backoff.h"

#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

TEST(BackoffTest, DoublesWithJitterUpToTheCapAndResets) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(8), 7);
  absl::Duration base = absl::Seconds(1);
  for (int i = 0; i < 8; ++i) {
    const absl::Duration d = backoff.Next();
    EXPECT_GE(d, base / 2);
    EXPECT_LE(d, base);
    base = std::min(base * 2, absl::Seconds(8));
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Seconds(1));
}

TEST(BackoffTest, SeedsGiveDifferentJitter) {
  Backoff a(absl::Seconds(1), absl::Seconds(8), 1);
  Backoff b(absl::Seconds(1), absl::Seconds(8), 2);
  EXPECT_NE(a.Next(), b.Next());
}

}  // namespace
}  // namespace tributary::worker
