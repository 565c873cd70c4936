#include "coordinator/throughput.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(ThroughputTest, NothingRecordedIsZero) {
  Throughput t;
  EXPECT_EQ(t.At(kStart).samples_per_s, 0);
}

// 100 samples (200 tokens) a second, one update every 10 ms for a minute:
// the rate over the 30 s window is 100/s however many marks were kept.
TEST(ThroughputTest, ASteadyStreamHasItsRate) {
  Throughput t(absl::Seconds(30), absl::Milliseconds(250));
  for (int i = 1; i <= 6000; ++i) t.Record(kStart + absl::Milliseconds(10 * i), i, 2 * i);
  const Rates r = t.At(kStart + absl::Seconds(60));
  EXPECT_NEAR(r.samples_per_s, 100, 0.5);
  EXPECT_NEAR(r.tokens_per_s, 200, 1);
}

// The rate follows a change within a window: 10/s for a minute, then 50/s.
TEST(ThroughputTest, TheWindowForgetsTheOldRate) {
  Throughput t(absl::Seconds(30), absl::Milliseconds(250));
  int64_t samples = 0;
  absl::Time now = kStart;
  for (int i = 0; i < 600; ++i) t.Record(now += absl::Milliseconds(100), samples += 1, 0);
  EXPECT_NEAR(t.At(now).samples_per_s, 10, 0.2);
  for (int i = 0; i < 600; ++i) t.Record(now += absl::Milliseconds(100), samples += 5, 0);
  EXPECT_NEAR(t.At(now).samples_per_s, 50, 1);
}

// When updates stop, the rate decays and is zero a window later.
TEST(ThroughputTest, FallsToZeroWhenUpdatesStop) {
  Throughput t(absl::Seconds(30), absl::Milliseconds(250));
  for (int i = 1; i <= 300; ++i) t.Record(kStart + absl::Milliseconds(100 * i), 10 * i, 0);
  const absl::Time last = kStart + absl::Seconds(30);
  EXPECT_NEAR(t.At(last).samples_per_s, 100, 2);
  EXPECT_LT(t.At(last + absl::Seconds(15)).samples_per_s, 70);
  EXPECT_EQ(t.At(last + absl::Seconds(31)).samples_per_s, 0);
}

}  // namespace
}  // namespace tributary::coordinator
