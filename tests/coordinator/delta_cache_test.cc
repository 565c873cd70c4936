#include "coordinator/delta_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

// Generous: no test measures speed, a waiting thread only has to get there.
constexpr absl::Duration kPatience = absl::Seconds(10);

DeltaCacheLimits Limits(size_t entries, size_t bytes) {
  DeltaCacheLimits limits;
  limits.max_entries = entries;
  limits.max_bytes = bytes;
  return limits;
}

// An encoder that counts its calls and returns `bytes`.
auto Encoder(std::atomic<int>& calls, std::string bytes) {
  return [&calls, bytes] {
    ++calls;
    return bytes;
  };
}

TEST(DeltaCacheTest, EachPairIsEncodedOnceAndHashed) {
  DeltaCache cache(Limits(4, 1 << 20));
  std::atomic<int> calls = 0;
  const std::shared_ptr<const EncodedDelta> first = cache.Get(0, 1, Encoder(calls, "delta 0->1"));
  EXPECT_EQ(first->bytes, "delta 0->1");
  EXPECT_EQ(first->sha256, Sha256("delta 0->1"));
  EXPECT_EQ(cache.Get(0, 1, Encoder(calls, "other")), first) << "the kept delta, not a new encode";
  EXPECT_EQ(cache.Get(1, 0, Encoder(calls, "delta 1->0"))->bytes, "delta 1->0") << "pairs are ordered";
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.encodes(), 2);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), 20u);
}

TEST(DeltaCacheTest, TheLeastRecentlyUsedGoBeyondTheEntryBound) {
  DeltaCache cache(Limits(2, 1 << 20));
  std::atomic<int> calls = 0;
  cache.Get(0, 2, Encoder(calls, "a"));
  cache.Get(1, 2, Encoder(calls, "b"));
  cache.Get(0, 2, Encoder(calls, "a"));  // (0, 2) is now the most recent.
  cache.Get(1, 3, Encoder(calls, "c"));  // Evicts (1, 2).
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(calls, 3);
  cache.Get(0, 2, Encoder(calls, "a"));
  EXPECT_EQ(calls, 3) << "(0, 2) was kept";
  cache.Get(1, 2, Encoder(calls, "b"));
  EXPECT_EQ(calls, 4) << "(1, 2) had to be encoded again";
}

TEST(DeltaCacheTest, TheByteBoundHoldsAndAnOversizedDeltaIsNotKept) {
  DeltaCache cache(Limits(100, 10));
  std::atomic<int> calls = 0;
  cache.Get(0, 1, Encoder(calls, std::string(4, 'a')));
  cache.Get(0, 2, Encoder(calls, std::string(4, 'b')));
  cache.Get(0, 3, Encoder(calls, std::string(4, 'c')));  // 12 bytes: (0, 1) goes.
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), 8u);

  const std::shared_ptr<const EncodedDelta> big = cache.Get(0, 4, Encoder(calls, std::string(11, 'd')));
  EXPECT_EQ(big->bytes.size(), 11u) << "handed out all the same";
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), 8u) << "and not kept: nothing else was evicted for it";
  cache.Get(0, 4, Encoder(calls, std::string(11, 'd')));
  EXPECT_EQ(calls, 5);
}

// Eight workers ask for the same new pair at once: one encode, one shared
// delta.
TEST(DeltaCacheTest, ConcurrentCallersForOnePairShareOneEncode) {
  DeltaCache cache(Limits(4, 1 << 20));
  std::atomic<int> calls = 0;
  absl::Notification release;
  auto slow = [&] {
    ++calls;
    release.WaitForNotificationWithTimeout(kPatience);
    return std::string("delta");
  };
  std::vector<std::shared_ptr<const EncodedDelta>> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&, i] { got[i] = cache.Get(3, 4, slow); });
  absl::SleepFor(absl::Milliseconds(100));  // Let them all ask before the encode ends.
  release.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.encodes(), 1);
  for (const auto& delta : got) EXPECT_EQ(delta, got[0]);
}

// An encode in progress blocks only the callers of its own pair: the cache's
// lock is not held while it runs.
TEST(DeltaCacheTest, EncodingRunsOutsideTheLock) {
  DeltaCache cache(Limits(4, 1 << 20));
  absl::Notification started, release;
  std::thread slow([&] {
    cache.Get(0, 1, [&] {
      started.Notify();
      release.WaitForNotificationWithTimeout(kPatience);
      return std::string("slow");
    });
  });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kPatience));
  const absl::Time before = absl::Now();
  std::atomic<int> calls = 0;
  EXPECT_EQ(cache.Get(1, 2, Encoder(calls, "fast"))->bytes, "fast");
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_LT(absl::Now() - before, kPatience / 2) << "waited for another pair's encode";
  release.Notify();
  slow.join();
  EXPECT_EQ(cache.entries(), 2u);
}

}  // namespace
}  // namespace tributary::coordinator
