// End to end across Linux network namespaces: deploy/netns-cluster.sh runs
// a short MLP job with a coordinator and two workers, each in a namespace
// of its own, every worker behind a tc tbf link and the fault proxy. The
// job must finish with every shard done exactly once, and its bytes must
// have crossed the veth links: at least what the workers had to download
// and upload, counted by the kernel on each worker's link.
//
// Needs root and permission to make network namespaces (CAP_NET_ADMIN);
// skipped with a message where either is missing.
#include <dirent.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/job_spec.h"
#include "common/models/model.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using nlohmann::json;

constexpr char kJob[] = R"(
  name: "e2e-netns"
  model { mlp { inputs: 784 hidden: 256 classes: 10 } }
  data { fashion_mnist { max_train_examples: 3000 } shard_examples: 125 }
  budget { epochs: 1 }
  eval { max_examples: 1000 }
)";
constexpr int kWorkers = 2;
// The script's bound on the whole run; the test waits a little longer for
// its teardown.
constexpr int kDurationS = 60;

// Runs `command` with /bin/sh; its output, and whether it exited 0.
std::pair<bool, std::string> Shell(const std::string& command, const std::string& log) {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start({"/bin/sh", "-c", command}, log);
  if (!p.ok()) return {false, p.status().ToString()};
  const std::optional<int> rc = (*p)->Wait(absl::Seconds(30));
  return {rc == 0, (*p)->Log()};
}

// Names in `dir` that start with `prefix`.
std::vector<std::string> EntriesStartingWith(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> found;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return found;
  while (dirent* entry = readdir(d)) {
    if (absl::StartsWith(entry->d_name, prefix)) found.push_back(entry->d_name);
  }
  closedir(d);
  return found;
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// The job's model in bytes (fp32): one whole model, or one codec-none update.
int64_t ModelBytes() {
  absl::StatusOr<tributary::v1::JobSpec> job = ParseJobSpec(kJob, "netns job");
  if (!job.ok()) {
    ADD_FAILURE() << job.status();
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(job->model());
  if (!model.ok()) {
    ADD_FAILURE() << model.status();
    return 0;
  }
  return static_cast<int64_t>(sizeof(float)) * (*model)->layout().size();
}

TEST(NetnsClusterTest, ShortJobFinishesEveryShardOnceWithItsBytesOnTheVethLinks) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces (deploy/netns-cluster.sh)";
  const std::string dir = TestDir("netns");
  const std::string prefix = absl::StrCat("te", getpid() % 10000000);
  const auto [can, why] = Shell(absl::StrCat("ip netns add ", prefix, "-probe && ip netns del ", prefix, "-probe"),
                                dir + "/probe.log");
  if (!can) GTEST_SKIP() << "cannot make a network namespace here (no CAP_NET_ADMIN?): " << why;

  WriteFile(dir + "/job.textproto", kJob);
  const std::string bin_dir(absl::StripSuffix(Binary(""), "/"));
  const std::string summary_path = dir + "/summary.json";
  absl::StatusOr<std::unique_ptr<Process>> script = Process::Start(
      {std::string(TRIBUTARY_SOURCE_DIR) + "/deploy/netns-cluster.sh", absl::StrCat("--workers=", kWorkers),
       "--job=" + dir + "/job.textproto", "--rate_mbit=20", "--latency_ms=10", "--worker_threads=1",
       absl::StrCat("--duration_s=", kDurationS), "--prefix=" + prefix, "--bin_dir=" + bin_dir,
       "--summary=" + summary_path, "--logs=" + dir + "/logs"},
      dir + "/script.log");
  ASSERT_TRUE(script.ok()) << script.status();
  const std::optional<int> rc = (*script)->Wait(absl::Seconds(kDurationS + 60));
  ASSERT_EQ(rc, 0) << (*script)->Log();

  // Torn down: no namespace or link of the run is left.
  EXPECT_TRUE(EntriesStartingWith("/run/netns", prefix + "-").empty());
  EXPECT_TRUE(EntriesStartingWith("/sys/class/net", prefix + "-").empty());

  const json summary = ReadJson(summary_path);
  ASSERT_TRUE(summary.is_object()) << (*script)->Log();
  EXPECT_EQ(summary["passed"], true);
  const json& status = summary["status"];
  EXPECT_EQ(status["state"], "done") << status.dump();
  const int64_t total = status["shards"]["total"].get<int64_t>();
  EXPECT_EQ(total, 24) << "3000 examples in shards of 125";
  EXPECT_EQ(status["shards"]["done"], total);
  EXPECT_EQ(status["updates_applied"], total) << "buffer_size 1: one update per shard";

  // The ledger, read by the script before it stopped the coordinator:
  // every item done, each completed exactly once.
  const json ledger = ReadJson(dir + "/logs/ledger.json");
  ASSERT_TRUE(ledger.is_object()) << (*script)->Log();
  std::set<std::pair<int, int>> items;
  for (const json& item : ledger["items"]) {
    EXPECT_EQ(item["state"], "done") << item.dump();
    EXPECT_EQ(item["completions"], 1) << item.dump();
    EXPECT_TRUE(items.emplace(item["epoch"].get<int>(), item["shard"].get<int>()).second) << item.dump();
  }
  EXPECT_EQ(static_cast<int64_t>(items.size()), total);

  // Bytes. Codec none: each update is the whole fp32 gradient, one model's
  // size; each worker downloads at least one whole model. The root-side
  // veth's tx is what went into a namespace, its rx what came out.
  const int64_t model_bytes = ModelBytes();
  std::map<std::string, int64_t> tasks;
  for (const json& w : status["workers"]) {
    tasks[w["name"].get<std::string>()] += w["tasks_done"].get<int64_t>();
    EXPECT_EQ(w["state"], "left") << w.dump();
  }
  const json& links = summary["links"];
  ASSERT_EQ(links["workers"].size(), static_cast<size_t>(kWorkers)) << links.dump();
  int64_t into_workers = 0;
  int64_t out_of_workers = 0;
  int64_t all_tasks = 0;
  for (const json& link : links["workers"]) {
    const std::string name = link["name"];
    const int64_t into = link["into_namespace_bytes"];
    const int64_t out = link["out_of_namespace_bytes"];
    EXPECT_GT(tasks[name], 0) << name << " did no task";
    EXPECT_GE(into, model_bytes) << name << ": at least one model came in over its veth";
    EXPECT_GE(out, tasks[name] * model_bytes) << name << ": its " << tasks[name] << " updates went out over its veth";
    // Through the rate limits, one on each end of the veth.
    EXPECT_GE(link["tbf_into"]["bytes"].get<int64_t>(), model_bytes) << link.dump();
    EXPECT_GE(link["tbf_out"]["bytes"].get<int64_t>(), tasks[name] * model_bytes) << link.dump();
    // Through the fault proxy, on the worker namespace's own loopback.
    EXPECT_GE(link["namespace_loopback_bytes"].get<int64_t>(), tasks[name] * model_bytes) << name;
    EXPECT_EQ(link["exit_code"], "0") << name << " left by itself when the job was done";
    into_workers += into;
    out_of_workers += out;
    all_tasks += tasks[name];
  }
  EXPECT_EQ(all_tasks, total);
  const int64_t sent = status["bytes"]["sent_wire"];
  const int64_t received = status["bytes"]["received_wire"];
  EXPECT_GE(received, total * model_bytes);
  EXPECT_GE(into_workers, sent) << "all the coordinator sent reached the workers over their veths";
  EXPECT_GE(out_of_workers, received);
  // The coordinator listens only on its namespace's veth address, and all
  // it sent and received crossed that veth, not a loopback.
  EXPECT_TRUE(absl::StartsWith(summary["settings"]["coordinator_address"].get<std::string>(), "10.77."))
      << summary["settings"].dump();
  const json& coordinator = links["coordinator"];
  EXPECT_GE(coordinator["out_of_namespace_bytes"].get<int64_t>(), sent);
  EXPECT_GE(coordinator["into_namespace_bytes"].get<int64_t>(), received);
  EXPECT_LT(coordinator["namespace_loopback_bytes"].get<int64_t>(), model_bytes);
}

}  // namespace
}  // namespace tributary::testing
