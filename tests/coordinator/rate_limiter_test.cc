#include "coordinator/rate_limiter.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TEST(RateLimiterTest, AdmitsABurstThenTheRate) {
  RateLimiter limiter(/*rate=*/2, /*burst=*/3, /*max_keys=*/10);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Take("a", kT0), absl::ZeroDuration()) << i;
  EXPECT_EQ(limiter.Take("a", kT0), absl::Milliseconds(500)) << "one token refills in 1/rate";
  EXPECT_EQ(limiter.Take("b", kT0), absl::ZeroDuration()) << "keys are independent";
  EXPECT_EQ(limiter.Take("a", kT0 + absl::Milliseconds(250)), absl::Milliseconds(250));
  EXPECT_EQ(limiter.Take("a", kT0 + absl::Milliseconds(500)), absl::ZeroDuration());
  EXPECT_GT(limiter.Take("a", kT0 + absl::Milliseconds(500)), absl::ZeroDuration());
}

TEST(RateLimiterTest, RefillStopsAtTheBurst) {
  RateLimiter limiter(1, 2, 10);
  EXPECT_EQ(limiter.Take("a", kT0), absl::ZeroDuration());
  const absl::Time later = kT0 + absl::Hours(1);
  EXPECT_EQ(limiter.Take("a", later), absl::ZeroDuration());
  EXPECT_EQ(limiter.Take("a", later), absl::ZeroDuration());
  EXPECT_GT(limiter.Take("a", later), absl::ZeroDuration());
}

TEST(RateLimiterTest, TheTableIsBounded) {
  RateLimiter limiter(1, 2, /*max_keys=*/3);
  for (const char* key : {"a", "b", "c"}) EXPECT_EQ(limiter.Take(key, kT0), absl::ZeroDuration());
  EXPECT_EQ(limiter.keys(), 3u);
  EXPECT_GT(limiter.Take("d", kT0), absl::ZeroDuration()) << "full of draining buckets: refused";
  EXPECT_EQ(limiter.keys(), 3u);
  // A second later every bucket is full again: they make room.
  EXPECT_EQ(limiter.Take("d", kT0 + absl::Seconds(1)), absl::ZeroDuration());
  EXPECT_EQ(limiter.keys(), 1u);
}

}  // namespace
}  // namespace tributary::coordinator
