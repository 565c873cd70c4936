// Coordinator failover on a real etcd (Debian etcd-server, started here on
// 127.0.0.1 in a temp directory; the tests skip without it):
//   - FailoverTest.LeaderKilledRepeatedly: three coordinators, four
//     workers given all three addresses. The leader is SIGKILLed at random
//     instants, three times, and restarted as a supervisor would (it comes
//     back as a standby). The run must finish with every shard applied
//     exactly once per epoch (the ledger audit), the applied versions of
//     every leader, put in etcd's order, strictly increasing with terms
//     that never go back (so no two leaders applied at once), and a final
//     loss within 5 % of the same job on one coordinator without faults.
//     It prints each failover's time: the leader's death to the first task
//     the new leader leased.
//   - FailoverTest.FrozenLeaderStopsWhenResumed: the leader is frozen with
//     SIGSTOP past its lease, a standby takes over, the old one is resumed
//     with SIGCONT: it must notice it lost the lease and stop, having
//     applied nothing after the new leader began.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/chaos_job.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kEtcdBinary[] = "/usr/bin/etcd";
constexpr int kWorkers = 4;
constexpr char kTaskDelay[] = "--test_task_delay=150ms";
constexpr int kTtlSeconds = 2;
constexpr absl::Duration kRunTimeout = absl::Minutes(5);

// One etcd member on 127.0.0.1, its data in `dir`.
class Etcd {
 public:
  static std::unique_ptr<Etcd> Start(const std::string& dir) {
    auto etcd = std::unique_ptr<Etcd>(new Etcd);
    etcd->client_port_ = FreePort();
    const int peer_port = FreePort();
    const std::string client = absl::StrCat("http://127.0.0.1:", etcd->client_port_);
    const std::string peer = absl::StrCat("http://127.0.0.1:", peer_port);
    absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(
        {kEtcdBinary, "--name=test", "--data-dir=" + dir + "/etcd", "--listen-client-urls=" + client,
         "--advertise-client-urls=" + client, "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
         "--initial-cluster=test=" + peer, "--log-level=warn"},
        dir + "/etcd.log");
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    etcd->process_ = *std::move(process);
    const bool healthy = WaitFor(
        [&] { return absl::StrContains(GetText(etcd->client_port_, "/health").value_or(""), "true"); },
        absl::Seconds(30));
    EXPECT_TRUE(healthy) << etcd->process_->Log();
    return healthy ? std::move(etcd) : nullptr;
  }
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", client_port_); }

 private:
  int client_port_ = 0;
  std::unique_ptr<Process> process_;
};

// Several coordinators of one job on one etcd, and workers that know them all.
class HaCluster {
 public:
  HaCluster(const std::string& name, int coordinators) : dir_(TestDir(name)) {
    WriteFile(dir_ + "/job.textproto", kChaosJob);
    etcd_ = Etcd::Start(dir_);
    for (int i = 0; i < coordinators; ++i) {
      grpc_ports_.push_back(FreePort());
      http_ports_.push_back(FreePort());
    }
    coordinators_.resize(coordinators);
  }
  bool ok() const { return etcd_ != nullptr; }
  const std::string& dir() const { return dir_; }
  int size() const { return static_cast<int>(coordinators_.size()); }

  Process& StartCoordinator(int i) {
    absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(
        {Binary("tributary-coordinator"), "--job=" + dir_ + "/job.textproto",
         absl::StrCat("--listen=127.0.0.1:", grpc_ports_[i]), absl::StrCat("--http=127.0.0.1:", http_ports_[i]),
         "--state_dir=" + dir_ + "/shared", "--etcd=" + etcd_->endpoint(),
         absl::StrCat("--etcd_ttl_s=", kTtlSeconds)},
        LogPath(i));
    EXPECT_TRUE(process.ok()) << process.status();
    coordinators_[i] = *std::move(process);
    return *coordinators_[i];
  }
  Process& coordinator(int i) { return *coordinators_[i]; }

  Process& StartWorker(int i) {
    std::vector<std::string> addresses;
    for (int port : grpc_ports_) addresses.push_back(absl::StrCat("127.0.0.1:", port));
    absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(
        {Binary("tributary-worker"), "--coordinator=" + absl::StrJoin(addresses, ","), absl::StrCat("--name=w", i),
         "--threads=1", kTaskDelay, absl::StrCat("--cache_dir=", dir_, "/cache-", i)},
        absl::StrCat(dir_, "/w", i, ".log"));
    EXPECT_TRUE(process.ok()) << process.status();
    workers_.push_back(*std::move(process));
    return *workers_.back();
  }
  std::vector<std::unique_ptr<Process>>& workers() { return workers_; }

  // The coordinator that leads now (its /healthz says "ok"; a standby's
  // says "standby"), if one does.
  std::optional<int> Leader() const {
    for (int i = 0; i < size(); ++i) {
      if (GetText(http_ports_[i], "/healthz").value_or("") == "ok\n") return i;
    }
    return std::nullopt;
  }
  std::optional<int> WaitForLeader(absl::Duration timeout) const {
    std::optional<int> leader;
    WaitFor([&] { return (leader = Leader()).has_value(); }, timeout);
    return leader;
  }
  nlohmann::json Get(int i, const std::string& path) const {
    return GetJson(http_ports_[i], path).value_or(nlohmann::json());
  }

  // Every coordinator's log, restarts included (each start appends).
  std::string Log(int i) const { return ReadFile(LogPath(i)).value_or(""); }
  std::string AllLogs() const {
    std::string all;
    for (int i = 0; i < size(); ++i) all += absl::StrCat("--- coordinator ", i, "\n", Tail(Log(i)));
    for (size_t i = 0; i < workers_.size(); ++i) {
      all += absl::StrCat("--- worker ", i, "\n", Tail(workers_[i]->Log()));
    }
    return all;
  }

 private:
  static std::string Tail(const std::string& log) { return log.size() > 6000 ? log.substr(log.size() - 6000) : log; }
  std::string LogPath(int i) const { return absl::StrCat(dir_, "/coordinator-", i, ".log"); }

  std::string dir_;
  std::unique_ptr<Etcd> etcd_;
  std::vector<int> grpc_ports_;
  std::vector<int> http_ports_;
  std::vector<std::unique_ptr<Process>> coordinators_;
  std::vector<std::unique_ptr<Process>> workers_;
};

struct Applied {
  int64_t revision;
  uint64_t version;
  int64_t term;
  int coordinator;
};

// The "applied version V term T etcd revision R" lines of every log, in
// etcd's order.
std::vector<Applied> AppliedVersions(const HaCluster& cluster) {
  static const std::regex kLine(R"(applied version (\d+) term (\d+) etcd revision (\d+))");
  std::vector<Applied> applied;
  for (int i = 0; i < cluster.size(); ++i) {
    const std::string log = cluster.Log(i);
    for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator(); ++it) {
      applied.push_back({std::stoll((*it)[3]), std::stoull((*it)[1]), std::stoll((*it)[2]), i});
    }
  }
  std::sort(applied.begin(), applied.end(), [](const Applied& a, const Applied& b) { return a.revision < b.revision; });
  return applied;
}

// Versions only grow along etcd's order; a term, once over, never applies again.
void ExpectOneLeaderAtATime(const std::vector<Applied>& applied, int min_terms) {
  ASSERT_FALSE(applied.empty());
  std::set<int64_t> terms = {applied.front().term};
  for (size_t i = 1; i < applied.size(); ++i) {
    const Applied& before = applied[i - 1];
    const Applied& now = applied[i];
    EXPECT_LT(before.revision, now.revision);
    EXPECT_LT(before.version, now.version) << "version went back at etcd revision " << now.revision;
    EXPECT_LE(before.term, now.term) << "term " << before.term << " applied after term " << now.term;
    if (now.term != before.term) {
      EXPECT_TRUE(terms.insert(now.term).second) << "term " << now.term << " applied, stopped, then applied again";
    }
  }
  EXPECT_GE(static_cast<int>(terms.size()), min_terms);
}

// The ledger audit: every work item done exactly once.
void ExpectLedgerExact(const HaCluster& cluster, int leader) {
  const nlohmann::json status = cluster.Get(leader, "/api/status");
  ASSERT_FALSE(status.is_null());
  EXPECT_EQ(status["shards"]["done"], status["shards"]["total"]) << status.dump();
  EXPECT_EQ(status["updates_applied"], status["shards"]["total"]) << status.dump();
  const nlohmann::json ledger = cluster.Get(leader, "/api/ledger");
  std::set<std::pair<int, int>> items;
  for (const nlohmann::json& item : ledger["items"]) {
    EXPECT_EQ(item["state"], "done") << item.dump();
    EXPECT_EQ(item["completions"], 1) << item.dump();
    EXPECT_TRUE(items.emplace(item["epoch"].get<int>(), item["shard"].get<int>()).second) << item.dump();
  }
  EXPECT_EQ(static_cast<int64_t>(items.size()), status["shards"]["total"].get<int64_t>());
}

// The job's loss on one coordinator without etcd or faults.
double FaultFreeLoss() {
  Cluster cluster("failover-baseline", kChaosJob);
  cluster.StartCoordinator({"--state_dir=" + cluster.dir() + "/state"});
  std::vector<Process*> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.push_back(&cluster.StartWorker(absl::StrCat("w", i), {kTaskDelay}));
  }
  EXPECT_TRUE(cluster.WaitUntilDone(kRunTimeout)) << cluster.Logs();
  const nlohmann::json status = cluster.Status();
  const double loss = status["eval_loss"].is_number() ? status["eval_loss"].get<double>() : NAN;
  std::printf("failover baseline (one coordinator, no faults): final eval loss %.4f\n", loss);
  return loss;
}

bool HaveEtcd() { return std::filesystem::exists(kEtcdBinary); }

TEST(FailoverTest, LeaderKilledRepeatedly) {
  if (!HaveEtcd()) GTEST_SKIP() << kEtcdBinary << " not found: install etcd-server (tools/install-deps.sh --test)";
  HaCluster cluster("failover", 3);
  ASSERT_TRUE(cluster.ok());
  for (int i = 0; i < cluster.size(); ++i) cluster.StartCoordinator(i);
  std::optional<int> leader = cluster.WaitForLeader(absl::Seconds(60));
  ASSERT_TRUE(leader.has_value()) << cluster.AllLogs();
  for (int i = 0; i < kWorkers; ++i) cluster.StartWorker(i);

  std::mt19937_64 rng(19);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  std::vector<double> failover_s;
  constexpr int kKills = 3;
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Seconds(uniform(1.0, 3.0)));
    leader = cluster.Leader();
    ASSERT_TRUE(leader.has_value()) << cluster.AllLogs();
    const nlohmann::json status = cluster.Get(*leader, "/api/status");
    if (!status.is_null() && status["shards"]["done"].get<double>() >= 0.8 * status["shards"]["total"].get<double>()) {
      break;
    }
    std::vector<size_t> log_sizes;
    for (int i = 0; i < cluster.size(); ++i) log_sizes.push_back(cluster.Log(i).size());
    const absl::Time killed_at = absl::Now();
    cluster.coordinator(*leader).Signal(SIGKILL);
    cluster.coordinator(*leader).Wait(absl::Seconds(10));
    const int dead = *leader;
    // The new leader's first lease ends the failover, as workers see it.
    std::optional<int> successor;
    const bool leased = WaitFor(
        [&] {
          for (int i = 0; i < cluster.size(); ++i) {
            if (i != dead && absl::StrContains(cluster.Log(i).substr(log_sizes[i]), ": first task leased")) {
              successor = i;
              return true;
            }
          }
          return false;
        },
        absl::Seconds(60));
    ASSERT_TRUE(leased) << cluster.AllLogs();
    failover_s.push_back(absl::ToDoubleSeconds(absl::Now() - killed_at));
    std::printf("failover %d: coordinator %d killed, coordinator %d leased its first task %.2f s later\n", kill + 1,
                dead, *successor, failover_s.back());
    // A supervisor starts the dead one again: it comes back a standby.
    cluster.StartCoordinator(dead);
  }
  ASSERT_GE(failover_s.size(), 2u) << "the run ended before two failovers";

  leader = std::nullopt;
  ASSERT_TRUE(WaitFor(
      [&] {
        leader = cluster.Leader();
        return leader && cluster.Get(*leader, "/api/status").value("state", "") == "done";
      },
      kRunTimeout))
      << cluster.AllLogs();
  for (auto& worker : cluster.workers()) EXPECT_EQ(worker->Wait(absl::Seconds(60)), 0) << worker->Log();
  ExpectLedgerExact(cluster, *leader);
  const nlohmann::json status = cluster.Get(*leader, "/api/status");
  const std::vector<Applied> applied = AppliedVersions(cluster);
  // The leader says so, with the term its versions carry.
  EXPECT_EQ(status["ha"]["role"], "leader") << status["ha"].dump();
  ASSERT_FALSE(applied.empty());
  EXPECT_EQ(status["ha"]["term"], applied.back().term) << status["ha"].dump();
  const double loss = status["eval_loss"].is_number() ? status["eval_loss"].get<double>() : NAN;
  ExpectOneLeaderAtATime(applied, static_cast<int>(failover_s.size()) + 1);
  // Every worker found each new leader by itself.
  for (size_t i = 0; i < cluster.workers().size(); ++i) {
    EXPECT_THAT(cluster.workers()[i]->Log(), HasSubstr("does not lead; trying")) << "w" << i;
  }
  for (int i = 0; i < cluster.size(); ++i) cluster.coordinator(i).Signal(SIGTERM);
  for (int i = 0; i < cluster.size(); ++i) EXPECT_TRUE(cluster.coordinator(i).Wait(absl::Seconds(30)).has_value());

  std::sort(failover_s.begin(), failover_s.end());
  std::set<int64_t> terms;
  for (const Applied& a : applied) terms.insert(a.term);
  std::printf("failover: %zu leader kills; failover times %s s (ttl %d s); %zu versions applied across %zu terms; "
              "final eval loss %.4f\n",
              failover_s.size(), absl::StrJoin(failover_s, ", ").c_str(), kTtlSeconds, applied.size(), terms.size(),
              loss);
  const double baseline = FaultFreeLoss();
  ASSERT_TRUE(std::isfinite(baseline));
  ASSERT_TRUE(std::isfinite(loss)) << status.dump();
  EXPECT_LE(loss, 1.05 * baseline) << "fault-free: " << baseline;
  EXPECT_GE(loss, 0.95 * baseline) << "fault-free: " << baseline;
}

TEST(FailoverTest, FrozenLeaderStopsWhenResumed) {
  if (!HaveEtcd()) GTEST_SKIP() << kEtcdBinary << " not found: install etcd-server (tools/install-deps.sh --test)";
  HaCluster cluster("failover-frozen", 2);
  ASSERT_TRUE(cluster.ok());
  cluster.StartCoordinator(0);
  std::optional<int> leader = cluster.WaitForLeader(absl::Seconds(60));
  ASSERT_EQ(leader, 0) << cluster.AllLogs();
  cluster.StartCoordinator(1);
  for (int i = 0; i < 2; ++i) cluster.StartWorker(i);
  // Some versions under the first leader.
  ASSERT_TRUE(WaitFor([&] { return AppliedVersions(cluster).size() >= 20; }, absl::Seconds(60))) << cluster.AllLogs();

  cluster.coordinator(0).Signal(SIGSTOP);
  const absl::Time frozen_at = absl::Now();
  // The standby takes over once the lease has expired, and applies.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const Applied& a : AppliedVersions(cluster)) {
          if (a.coordinator == 1) return true;
        }
        return false;
      },
      absl::Seconds(60)))
      << cluster.AllLogs();
  std::printf("frozen leader: the standby applied its first version %.2f s after SIGSTOP (ttl %d s)\n",
              absl::ToDoubleSeconds(absl::Now() - frozen_at), kTtlSeconds);
  const size_t frozen_log = cluster.Log(0).size();
  int64_t new_term_start = 0;
  for (const Applied& a : AppliedVersions(cluster)) {
    if (a.coordinator == 1) {
      new_term_start = a.revision;
      break;
    }
  }
  absl::SleepFor(absl::Seconds(1));
  cluster.coordinator(0).Signal(SIGCONT);

  const std::optional<int> exit_code = cluster.coordinator(0).Wait(absl::Seconds(30));
  ASSERT_TRUE(exit_code.has_value()) << "the resumed leader went on serving\n" << cluster.AllLogs();
  EXPECT_EQ(*exit_code, 75) << cluster.Log(0);
  const std::string after = cluster.Log(0).substr(frozen_log);
  EXPECT_THAT(after, HasSubstr("lost leadership"));
  EXPECT_THAT(after, ::testing::Not(HasSubstr("checkpoint /")));
  // Nothing of the old leader's is ordered after the new leader's first version.
  for (const Applied& a : AppliedVersions(cluster)) {
    if (a.coordinator == 0) {
      EXPECT_LT(a.revision, new_term_start) << "the frozen leader applied version " << a.version;
    }
  }
  ExpectOneLeaderAtATime(AppliedVersions(cluster), 2);
  // The new leader goes on.
  EXPECT_EQ(cluster.Leader(), 1);
  const size_t before = AppliedVersions(cluster).size();
  EXPECT_TRUE(WaitFor([&] { return AppliedVersions(cluster).size() > before; }, absl::Seconds(30))) << cluster.AllLogs();
  cluster.coordinator(1).Signal(SIGTERM);
  EXPECT_EQ(cluster.coordinator(1).Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace tributary::testing
