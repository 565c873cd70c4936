// End to end: blobs over HTTP through a real nginx cache. A coordinator
// trains the MLP (with model deltas), the project's nginx relay
// (deploy/nginx/tributary-cache.conf) sits in front of its HTTP port, and
// eight workers fetch models, deltas and shards through it by digest
// (--blob_url). Midway the test corrupts every body in nginx's cache: the
// workers must catch each bad blob by its digest, fetch it over gRPC, and
// the run must still complete every shard exactly once.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using nlohmann::json;

constexpr char kNginx[] = "/usr/sbin/nginx";
constexpr int kWorkers = 8;
// 60 shards x 4 epochs; a worker holds the shards it fetched, so in later
// epochs most fetches are of shards other workers fetched first: cache hits.
// A version per eight updates, so the workers want the same few models and
// deltas at about the same time, as a relay's workers do.
constexpr char kJob[] = R"(
  name: "e2e-blobs"
  data { fashion_mnist { max_train_examples: 6000 } shard_examples: 100 }
  budget { epochs: 4 }
  eval { interval_versions: 1000 }
  optimizer { lr: 0.1 }
  aggregation { buffer_size: 8 }
  codec { model_deltas: true }
)";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// nginx with the project's relay config, in `prefix`, on 127.0.0.1:`port`,
// in front of 127.0.0.1:`upstream`.
std::unique_ptr<Process> StartNginx(const std::string& prefix, int port, int upstream) {
  for (const char* sub : {"logs", "temp", "cache"}) std::filesystem::create_directories(prefix + "/" + sub);
  const std::string config = absl::StrReplaceAll(
      ReadAll(std::string(TRIBUTARY_SOURCE_DIR) + "/deploy/nginx/tributary-cache.conf"),
      {{"@LISTEN@", absl::StrCat("127.0.0.1:", port)},
       {"@UPSTREAM@", absl::StrCat("127.0.0.1:", upstream)},
       {"@CACHE_DIR@", prefix + "/cache"}});
  WriteFile(prefix + "/nginx.conf", config);
  // As root, nginx's workers would drop to "nobody", who cannot write the test's directories.
  const std::string globals = absl::StrCat("daemon off; pid nginx.pid;", geteuid() == 0 ? " user root;" : "");
  absl::StatusOr<std::unique_ptr<Process>> nginx =
      Process::Start({kNginx, "-p", prefix + "/", "-e", prefix + "/logs/error.log", "-c", prefix + "/nginx.conf",
                      "-g", globals},
                     prefix + "/nginx.out");
  EXPECT_TRUE(nginx.ok()) << nginx.status();
  return nginx.ok() ? *std::move(nginx) : nullptr;
}

// GET through nginx: the status and X-Cache-Status; status 0 when nothing answers.
std::pair<int, std::string> Fetch(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  const httplib::Result result = client.Get(path);
  if (!result) return {0, ""};
  return {result->status, result->get_header_value("X-Cache-Status")};
}

// Flips the last byte of every cached response: a cache file ends with the
// body, so every cached blob now fails its digest. Returns how many.
int CorruptCache(const std::string& dir) {
  int corrupted = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.file_size() == 0) continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    const char last = static_cast<char>(file.get());
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 0x5a));
    corrupted += file.good();
  }
  return corrupted;
}

struct WorkerBlobs {
  int64_t ok = 0, failed = 0, mismatches = 0, bytes = 0;
};

// Adds up the workers' "blob fetches over HTTP: ..." summary lines (worker/blob_api.h).
WorkerBlobs SumBlobLines(const std::string& logs, int* lines) {
  static const std::regex kLine(
      R"(blob fetches over HTTP: (\d+) ok \((\d+) bytes\), (\d+) failed \((\d+) digest mismatches\))");
  WorkerBlobs sum;
  *lines = 0;
  for (auto it = std::sregex_iterator(logs.begin(), logs.end(), kLine); it != std::sregex_iterator(); ++it) {
    ++*lines;
    sum.ok += std::stoll((*it)[1]);
    sum.bytes += std::stoll((*it)[2]);
    sum.failed += std::stoll((*it)[3]);
    sum.mismatches += std::stoll((*it)[4]);
  }
  return sum;
}

void ExpectEveryShardOnce(const json& status, const json& ledger) {
  EXPECT_EQ(status["shards"]["done"], status["shards"]["total"]) << status.dump();
  std::set<std::pair<int, int>> items;
  for (const json& item : ledger["items"]) {
    EXPECT_EQ(item["state"], "done") << item.dump();
    EXPECT_EQ(item["completions"], 1) << item.dump();
    EXPECT_TRUE(items.emplace(item["epoch"].get<int>(), item["shard"].get<int>()).second) << item.dump();
  }
  EXPECT_EQ(static_cast<int64_t>(items.size()), status["shards"]["total"].get<int64_t>());
}

TEST(BlobCacheTest, EightWorkersFetchThroughNginxAndSurviveACorruptedCache) {
  if (access(kNginx, X_OK) != 0) GTEST_SKIP() << "needs nginx at " << kNginx << " (Debian's nginx-light)";
  Cluster cluster("blobcache", kJob);
  cluster.StartCoordinator();
  ASSERT_GT(cluster.http_port(), 0) << cluster.Logs();
  const std::string prefix = cluster.dir() + "/nginx";
  const int port = FreePort();
  std::unique_ptr<Process> nginx = StartNginx(prefix, port, cluster.http_port());
  ASSERT_NE(nginx, nullptr);
  absl::Cleanup stop_nginx = [&] {
    nginx->Signal(SIGTERM);  // The master stops its workers; SIGKILL would orphan them.
    nginx->Wait(absl::Seconds(10));
  };
  // Only /blobs/ goes through; an unknown digest is a 404 nginx must not keep.
  ASSERT_TRUE(WaitFor([&] { return Fetch(port, "/healthz").first == 404; }, absl::Seconds(20)))
      << ReadAll(prefix + "/nginx.out") << ReadAll(prefix + "/logs/error.log");
  EXPECT_EQ(Fetch(port, "/blobs/" + std::string(64, '0')).second, "MISS");
  EXPECT_EQ(Fetch(port, "/blobs/" + std::string(64, '0')).second, "MISS") << "a 404 is never cached";

  for (int i = 0; i < kWorkers; ++i) {
    cluster.StartWorker(absl::StrCat("w", i), {absl::StrCat("--blob_url=http://127.0.0.1:", port),
                                               "--test_task_delay=100ms"});
  }
  // A third of the way in, every blob fetched so far is in the cache: corrupt them all.
  ASSERT_TRUE(WaitFor(
      [&] {
        const json s = cluster.Status();
        return s["shards"]["done"].is_number() && s["shards"]["done"].get<int>() >= 80;
      },
      absl::Minutes(3)))
      << cluster.Logs();
  const int corrupted = CorruptCache(prefix + "/cache");
  EXPECT_GT(corrupted, 0);
  ASSERT_TRUE(cluster.WaitUntilDone(absl::Minutes(5))) << cluster.Logs();

  ExpectEveryShardOnce(cluster.Status(), cluster.Get("/api/ledger"));
  std::string worker_logs;
  for (int i = 0; i < kWorkers; ++i) worker_logs += ReadAll(absl::StrCat(cluster.dir(), "/w", i, ".log"));
  // Workers leave once the job is done, and print their summary as they exit.
  ASSERT_TRUE(WaitFor(
      [&] {
        int lines = 0;
        worker_logs.clear();
        for (int i = 0; i < kWorkers; ++i) worker_logs += ReadAll(absl::StrCat(cluster.dir(), "/w", i, ".log"));
        SumBlobLines(worker_logs, &lines);
        return lines == kWorkers;
      },
      absl::Minutes(1)))
      << cluster.Logs();
  int lines = 0;
  const WorkerBlobs blobs = SumBlobLines(worker_logs, &lines);

  // The corruption was caught by digest, and those blobs came over gRPC instead.
  EXPECT_GT(blobs.mismatches, 0) << cluster.Logs();
  EXPECT_GE(blobs.failed, blobs.mismatches);
  EXPECT_NE(worker_logs.find("digest mismatch"), std::string::npos);
  EXPECT_NE(worker_logs.find("fetching it over gRPC"), std::string::npos);

  // The cache did the fan-out: the coordinator served each digest at most once (to nginx) ...
  const json served = cluster.Get("/api/blobs");
  ASSERT_TRUE(served["digests"].is_array()) << served.dump();
  EXPECT_GT(served["digests"].size(), 0u);
  for (const json& d : served["digests"]) EXPECT_LE(d["serves"].get<int>(), 1) << d.dump();
  const json status = cluster.Status();
  const json& counts = status["blobs"]["served"];
  EXPECT_GT(counts["shard"].get<int64_t>(), 0) << status["blobs"].dump();
  EXPECT_GT(counts["model"].get<int64_t>() + counts["delta"].get<int64_t>(), 0) << status["blobs"].dump();
  EXPECT_EQ(counts["model"].get<int64_t>() + counts["delta"].get<int64_t>() + counts["shard"].get<int64_t>(),
            static_cast<int64_t>(served["digests"].size()));
  // ... and the workers got more of their bytes over HTTP than over gRPC.
  EXPECT_GT(blobs.bytes, status["bytes"]["sent_wire"].get<int64_t>())
      << "HTTP " << blobs.bytes << " bytes, gRPC " << status["bytes"]["sent_wire"];
  EXPECT_GT(blobs.ok, blobs.failed);
  EXPECT_GT(blobs.bytes, status["blobs"]["bytes_sent"].get<int64_t>()) << "nginx sent more than it fetched";
  std::printf("%d workers: over HTTP %lld ok (%lld bytes), %lld failed (%lld digest mismatches; %d cache files "
              "corrupted); over gRPC %lld bytes; the coordinator served %zu digests, %lld bytes, to nginx\n",
              kWorkers, static_cast<long long>(blobs.ok), static_cast<long long>(blobs.bytes),
              static_cast<long long>(blobs.failed), static_cast<long long>(blobs.mismatches), corrupted,
              static_cast<long long>(status["bytes"]["sent_wire"].get<int64_t>()), served["digests"].size(),
              static_cast<long long>(status["blobs"]["bytes_sent"].get<int64_t>()));
  // A digest the coordinator served is a hit in nginx now.
  const std::string first = served["digests"][0]["sha256"];
  EXPECT_EQ(Fetch(port, "/blobs/" + first), std::make_pair(200, std::string("HIT")));
  const std::string metrics = cluster.Text("/metrics");
  EXPECT_NE(metrics.find("tributary_blob_requests_total{kind=\"shard\",result=\"served\"}"), std::string::npos);
  EXPECT_NE(metrics.find("tributary_blob_bytes_sent_total"), std::string::npos);
}

// No cache: the workers fetch straight from the coordinator's HTTP port;
// then from a URL that answers garbage (the gRPC port, which speaks
// HTTP/2 only), where every fetch fails, is counted, and falls back.
TEST(BlobCacheTest, WorkersFetchFromTheCoordinatorAndSurviveAUrlThatAnswersGarbage) {
  Cluster cluster("blobdirect", absl::StrReplaceAll(kJob, {{"epochs: 4", "epochs: 1"}}));
  cluster.StartCoordinator();
  ASSERT_GT(cluster.http_port(), 0) << cluster.Logs();
  const std::string local = "--blob_url=http://127.0.0.1:";
  Process& direct = cluster.StartWorker("direct", {absl::StrCat(local, cluster.http_port())});
  Process& garbage = cluster.StartWorker("garbage", {absl::StrCat(local, cluster.grpc_port())});
  ASSERT_TRUE(cluster.WaitUntilDone(absl::Minutes(3))) << cluster.Logs();
  ExpectEveryShardOnce(cluster.Status(), cluster.Get("/api/ledger"));
  EXPECT_EQ(direct.Wait(absl::Minutes(1)), 0) << cluster.Logs();
  EXPECT_EQ(garbage.Wait(absl::Minutes(1)), 0) << cluster.Logs();

  int lines = 0;
  const WorkerBlobs straight = SumBlobLines(direct.Log(), &lines);
  EXPECT_EQ(lines, 1);
  EXPECT_GT(straight.ok, 0) << direct.Log();
  EXPECT_EQ(straight.mismatches, 0) << direct.Log();
  const WorkerBlobs fallen = SumBlobLines(garbage.Log(), &lines);
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(fallen.ok, 0) << garbage.Log();
  EXPECT_GT(fallen.failed, 0) << garbage.Log();
  EXPECT_NE(garbage.Log().find("fetching it over gRPC"), std::string::npos);
  EXPECT_GT(cluster.Status()["blobs"]["served"]["shard"].get<int64_t>(), 0);
}

TEST(BlobCacheTest, AMalformedBlobUrlIsAFlagError) {
  const std::string dir = TestDir("bloburl");
  absl::StatusOr<std::unique_ptr<Process>> worker =
      Process::Start({Binary("tributary-worker"), "--blob_url=ftp://relay"}, dir + "/worker.log");
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ((*worker)->Wait(absl::Seconds(30)), 1);
  EXPECT_NE((*worker)->Log().find("--blob_url: \"ftp://relay\" is not http://HOST[:PORT][/PATH]"), std::string::npos)
      << (*worker)->Log();
}

}  // namespace
}  // namespace tributary::testing
