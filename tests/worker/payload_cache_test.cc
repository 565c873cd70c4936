#include "worker/payload_cache.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

std::shared_ptr<const std::string> Bytes(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

TEST(PayloadCacheTest, EvictsLeastRecentlyUsedBeyondBudget) {
  PayloadCache cache("", 10);
  cache.Put(Sha256("aaaa"), Bytes("aaaa"), false);
  cache.Put(Sha256("bbbb"), Bytes("bbbb"), false);
  ASSERT_NE(cache.Get(Sha256("aaaa")), nullptr);  // a is now the most recent
  cache.Put(Sha256("cccc"), Bytes("cccc"), false);
  EXPECT_NE(cache.Get(Sha256("aaaa")), nullptr);
  EXPECT_EQ(cache.Get(Sha256("bbbb")), nullptr);
  EXPECT_EQ(*cache.Get(Sha256("cccc")), "cccc");
}

TEST(PayloadCacheTest, ZeroBudgetKeepsExactlyTheLatest) {
  PayloadCache cache("", 0);
  cache.Put(Sha256("v1"), Bytes("v1"), false);
  ASSERT_NE(cache.Get(Sha256("v1")), nullptr);
  cache.Put(Sha256("v2"), Bytes("v2"), false);
  EXPECT_EQ(cache.Get(Sha256("v1")), nullptr);
  EXPECT_EQ(*cache.Get(Sha256("v2")), "v2");
}

TEST(PayloadCacheTest, PersistedPayloadsSurviveARestartAndCorruptOnesAreDropped) {
  const std::string dir = ::testing::TempDir() + "/payload_cache_test";
  mkdir(dir.c_str(), 0755);
  {
    PayloadCache cache(dir, 1 << 20);
    cache.Put(Sha256("shard"), Bytes("shard"), true);
    cache.Put(Sha256("model"), Bytes("model"), false);
  }
  PayloadCache restarted(dir, 1 << 20);
  ASSERT_NE(restarted.Get(Sha256("shard")), nullptr);
  EXPECT_EQ(*restarted.Get(Sha256("shard")), "shard");
  EXPECT_EQ(restarted.Get(Sha256("model")), nullptr);

  const std::string path = dir + "/" + Sha256Hex(Sha256("other"));
  std::ofstream(path) << "tampered";
  PayloadCache again(dir, 1 << 20);
  EXPECT_EQ(again.Get(Sha256("other")), nullptr);
  std::ifstream gone(path);
  EXPECT_FALSE(gone.good()) << "a corrupt cache file is removed";
}

}  // namespace
}  // namespace tributary::worker
