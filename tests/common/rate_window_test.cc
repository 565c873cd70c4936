#include "common/rate_window.h"

#include "gtest/gtest.h"

namespace tributary {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000);

TEST(RateWindowTest, NoRateUntilTimePasses) {
  RateWindow rate(absl::Seconds(5), absl::Milliseconds(100));
  EXPECT_FALSE(rate.PerSecond(kNow).has_value());
  rate.Record(kNow, 100);
  EXPECT_FALSE(rate.PerSecond(kNow).has_value());
  rate.Record(kNow, 200);
  EXPECT_FALSE(rate.PerSecond(kNow).has_value()) << "no time between them";
  EXPECT_DOUBLE_EQ(rate.PerSecond(kNow + absl::Seconds(1)).value_or(-1), 100);
}

// 100 a second, a record every 10 ms for a minute: 100/s over a 30 s
// window, however few marks were kept.
TEST(RateWindowTest, ASteadyStreamHasItsRate) {
  RateWindow rate(absl::Seconds(30), absl::Milliseconds(250));
  for (int i = 1; i <= 6000; ++i) rate.Record(kNow + absl::Milliseconds(10 * i), i);
  EXPECT_NEAR(rate.PerSecond(kNow + absl::Seconds(60)).value_or(-1), 100, 0.5);
}

// Only the window counts: a fast start, then 100/s.
TEST(RateWindowTest, TheWindowForgetsTheOldRate) {
  RateWindow rate(absl::Seconds(5), absl::Milliseconds(100));
  rate.Record(kNow, 0);
  rate.Record(kNow + absl::Seconds(1), 10000);
  for (int s = 2; s <= 10; ++s) rate.Record(kNow + absl::Seconds(s), 10000 + 100 * (s - 1));
  EXPECT_DOUBLE_EQ(rate.PerSecond(kNow + absl::Seconds(10)).value_or(-1), 100);
}

// When the total stops growing, the rate decays, and is zero a window later
// whether or not the owner records the standing total.
TEST(RateWindowTest, AStallDecaysToZero) {
  RateWindow recorded(absl::Seconds(30), absl::Milliseconds(250));
  RateWindow silent(absl::Seconds(30), absl::Milliseconds(250));
  for (int i = 1; i <= 300; ++i) {
    recorded.Record(kNow + absl::Milliseconds(100 * i), 10 * i);
    silent.Record(kNow + absl::Milliseconds(100 * i), 10 * i);
  }
  const absl::Time last = kNow + absl::Seconds(30);
  EXPECT_NEAR(silent.PerSecond(last).value_or(-1), 100, 2);
  EXPECT_LT(silent.PerSecond(last + absl::Seconds(15)).value_or(-1), 70);
  for (int s = 1; s <= 31; ++s) recorded.Record(last + absl::Seconds(s), 3000);
  EXPECT_EQ(recorded.PerSecond(last + absl::Seconds(31)), 0.0);
  EXPECT_EQ(silent.PerSecond(last + absl::Seconds(31)), 0.0);
}

TEST(RateWindowTest, MemoryIsBoundedByWindowOverResolution) {
  RateWindow rate(absl::Seconds(5), absl::Milliseconds(100));
  for (int i = 0; i < 100000; ++i) {
    rate.Record(kNow + absl::Milliseconds(i), i);
    ASSERT_LE(rate.marks(), 5000u / 100 + 3);
  }
  EXPECT_NEAR(rate.PerSecond(kNow + absl::Milliseconds(99999)).value_or(-1), 1000, 1);
}

}  // namespace
}  // namespace tributary
