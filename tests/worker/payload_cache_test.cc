#include "worker/payload_cache.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
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

TEST(PayloadCacheTest, KeepsAtMostMaxFilesOnDiskAcrossRestarts) {
  const std::string dir = ::testing::TempDir() + "/payload_cache_bounded/models";  // Created by the cache.
  std::filesystem::remove_all(dir);
  auto files = [&] {
    return std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator());
  };
  {
    PayloadCache cache(dir, 0, 2);
    for (const char* v : {"v1", "v2", "v3"}) cache.Put(Sha256(v), Bytes(v), true);
    EXPECT_EQ(files(), 2);
  }
  // File times are coarser than these writes; order them as real ones, seconds apart, would be.
  const auto now = std::filesystem::file_time_type::clock::now();
  std::filesystem::last_write_time(dir + "/" + Sha256Hex(Sha256("v2")), now - std::chrono::seconds(2));
  std::filesystem::last_write_time(dir + "/" + Sha256Hex(Sha256("v3")), now - std::chrono::seconds(1));
  PayloadCache restarted(dir, 0, 2);
  EXPECT_EQ(restarted.Get(Sha256("v1")), nullptr) << "the oldest went first";
  ASSERT_NE(restarted.Get(Sha256("v2")), nullptr);
  restarted.Put(Sha256("v4"), Bytes("v4"), true);
  EXPECT_EQ(files(), 2) << "files from before the restart count too";
  PayloadCache again(dir, 0, 2);
  EXPECT_NE(again.Get(Sha256("v4")), nullptr);
  EXPECT_NE(again.Get(Sha256("v3")), nullptr);
}

}  // namespace
}  // namespace tributary::worker
