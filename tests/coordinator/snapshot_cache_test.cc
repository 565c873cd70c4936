#include "coordinator/snapshot_cache.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

std::shared_ptr<const ModelSnapshot> Version(uint64_t version) {
  const std::vector<float> weights = {static_cast<float>(version), 1.0f};
  return std::make_shared<const ModelSnapshot>(version, weights);
}

TEST(SnapshotCacheTest, ServesTheCurrentVersionAndThoseWithinTheStalenessBound) {
  SnapshotCache cache(/*max_staleness=*/2);
  EXPECT_EQ(cache.current(), nullptr);
  for (uint64_t v = 0; v <= 5; ++v) cache.Publish(Version(v));
  EXPECT_EQ(cache.version(), 5u);
  EXPECT_EQ(cache.current()->version, 5u);
  EXPECT_EQ(cache.current()->params()[0], 5.0f);
  EXPECT_EQ(cache.size(), 3u) << "5, 4 and 3";
  for (uint64_t v : {3, 4, 5}) {
    ASSERT_TRUE(cache.Find(v).ok()) << v;
    EXPECT_EQ((*cache.Find(v))->version, v);
  }
  EXPECT_TRUE(absl::IsNotFound(cache.Find(2).status()));
  EXPECT_TRUE(absl::IsNotFound(cache.Find(6).status()));
}

TEST(SnapshotCacheTest, SkippedVersionsAndAClearedCache) {
  SnapshotCache cache(/*max_staleness=*/4);
  cache.Publish(Version(0));
  cache.Publish(Version(10));  // A restored run, or versions nobody asked for.
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(cache.Find(0).status()));
  const std::shared_ptr<const ModelSnapshot> held = *cache.Find(10);
  cache.Clear();
  EXPECT_EQ(cache.current(), nullptr);
  EXPECT_EQ(held->version, 10u) << "a snapshot handed out outlives the cache's copy";
}

}  // namespace
}  // namespace tributary::coordinator
