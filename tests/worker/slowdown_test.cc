#include "worker/slowdown.h"

#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

TEST(SlowdownTest, FullSpeedNeverWaits) {
  EXPECT_EQ(SlowdownWait(1, absl::Seconds(1), absl::Seconds(2)), absl::ZeroDuration()) << "two threads";
  EXPECT_EQ(SlowdownWait(1, absl::Seconds(4), absl::Seconds(1)), absl::ZeroDuration()) << "shared cores";
}

TEST(SlowdownTest, OnAnIdleMachineWaitsFMinusOneTimesTheTask) {
  // One thread: wall = CPU time. Two threads: CPU time twice the wall.
  EXPECT_EQ(SlowdownWait(3, absl::Seconds(1), absl::Seconds(1)), absl::Seconds(2));
  EXPECT_EQ(SlowdownWait(3, absl::Seconds(1), absl::Seconds(2)), absl::Seconds(2));
}

TEST(SlowdownTest, SharedCoresAreNotMultiplied) {
  // 1 s of CPU stretched to 4 s by three other workers: a 2x worker is
  // already late, an 8x one waits for 8 s in all.
  EXPECT_EQ(SlowdownWait(2, absl::Seconds(4), absl::Seconds(1)), absl::ZeroDuration());
  EXPECT_EQ(SlowdownWait(8, absl::Seconds(4), absl::Seconds(1)), absl::Seconds(4));
}

TEST(SlowdownTest, ProcessCpuTimeAdvancesWithWork) {
  const absl::Duration before = ProcessCpuTime();
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + i * 1e-9;
  EXPECT_GT(ProcessCpuTime(), before);
}

}  // namespace
}  // namespace tributary::worker
