// End to end: who may train on an open coordinator, and what it keeps
// secret (SPEC §8). A real coordinator and real workers on 127.0.0.1,
// with attackers in this process speaking gRPC by hand
// (tests/e2e/hostile_client.h):
//   - a join token revoked by editing --join_token_file and sending SIGHUP
//     ends its worker's session, and the worker may not come back; a file
//     that no longer parses keeps the tokens loaded before;
//   - a ban outlives a coordinator killed without warning (it is in the
//     checkpoint) until --unban_file lifts it;
//   - no session token the coordinator handed out, and no join token,
//     reaches its log, its status endpoint or its checkpoints.
#include <signal.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/checkpoint.h"
#include "common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/hostile_client.h"

namespace tributary::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using tributary::v1::Task;

// The tiny MLP of the other e2e tests, with a budget it never reaches.
// Three invalid requests earn a ban; checkpoints every 0.2 s once the run
// has moved. Every client joins from 127.0.0.1, more often than the default
// per-address join rate allows.
constexpr char kJob[] = R"(
  name: "security-mlp"
  model { mlp { hidden: 32 } }
  data { fashion_mnist { max_train_examples: 10000 } shard_examples: 100 }
  eval { interval_versions: 1000 max_examples: 100 }
  optimizer { lr: 0.05 }
  budget { epochs: 100 }
  lease { lease_timeout_s: 5 heartbeat_interval_s: 0.5 heartbeat_timeout_s: 10 max_invalid_requests: 3 }
  limits { ban_duration_s: 600 joins_per_minute_per_ip: 600 joins_per_minute_per_identity: 600 }
  checkpoint { interval_s: 0.2 }
)";
constexpr int kMaxInvalidRequests = 3;

// How long anything the coordinator does on its own may take to show.
constexpr absl::Duration kSettle = absl::Seconds(10);

// Workers pause between tasks: both train on two shared cores, with
// progress to see within a second.
constexpr char kTaskDelay[] = "--test_task_delay=100ms";

std::string JoinToken(const std::string& name) { return absl::StrCat("jt-", name, "-7c41d09e2b85a6f3"); }

// --join_token_file lines for `names`.
std::string TokenLines(const std::vector<std::string>& names) {
  std::string lines;
  for (const std::string& name : names) absl::StrAppend(&lines, name, " ", JoinToken(name), "\n");
  return lines;
}

// The identity of the token named `name` (coordinator/identity.h).
std::string TokenIdentity(const std::string& name) { return "token:" + name; }

// Every /api/status record of a worker called `name` (one per session).
std::vector<json> WorkerRecords(const Cluster& cluster, const std::string& name) {
  std::vector<json> records;
  for (const json& w : cluster.Status().value("workers", json::array())) {
    if (w.value("name", "") == name) records.push_back(w);
  }
  return records;
}

int64_t TasksDone(const Cluster& cluster, const std::string& name) {
  int64_t tasks = 0;
  for (const json& w : WorkerRecords(cluster, name)) tasks += w.value("tasks_done", int64_t{0});
  return tasks;
}

bool HasActiveSession(const Cluster& cluster, const std::string& name) {
  for (const json& w : WorkerRecords(cluster, name)) {
    if (w.value("state", "") == "active") return true;
  }
  return false;
}

// Waits until the worker `name` finishes more than `tasks` tasks.
bool KeepsTraining(const Cluster& cluster, const std::string& name, int64_t tasks) {
  return WaitFor([&] { return TasksDone(cluster, name) > tasks; }, kSettle);
}

// Starts a worker that joins with `name`'s token alone in its own file.
Process& StartTokenWorker(Cluster& cluster, const std::string& name) {
  const std::string token_file = cluster.dir() + "/" + name + ".token";
  WriteFile(token_file, JoinToken(name) + "\n");
  return cluster.StartWorker(
      name, {"--join_token_file=" + token_file, kTaskDelay, "--cache_dir=" + cluster.dir() + "/" + name + "-cache"});
}

bool ListsBan(const json& status, const std::string& identity) {
  for (const json& ban : status.value("bans", json::array())) {
    if (ban.value("identity", "") == identity) return true;
  }
  return false;
}

// Whether a checkpoint in `state_dir` that verifies holds a ban of `identity`.
bool CheckpointHoldsBan(const std::string& state_dir, const std::string& identity) {
  for (const std::string& path : ListCheckpoints(state_dir)) {
    absl::StatusOr<tributary::v1::Checkpoint> checkpoint = LoadCheckpoint(path);
    if (!checkpoint.ok()) continue;
    for (const tributary::v1::BanEntry& ban : checkpoint->run().bans()) {
      if (ban.identity() == identity) return true;
    }
  }
  return false;
}

// Sends invalid submits (an unknown codec) from `client`'s session until
// one is refused with PERMISSION_DENIED (the ban), or twice the threshold.
grpc::StatusCode SubmitInvalidUntilBanned(HostileClient& client) {
  grpc::StatusCode last = grpc::StatusCode::OK;
  for (int i = 0; i < 2 * kMaxInvalidRequests && last != grpc::StatusCode::PERMISSION_DENIED; ++i) {
    absl::StatusOr<Task> task = client.LeaseTask();
    if (!task.ok()) break;  // The session ended with the ban.
    last = client.Upload(HeaderFor(*task, "bogus", 4), {}, false).error_code();
  }
  return last;
}

// The status of a fresh connection's Join as `name`.
grpc::Status JoinAs(const Cluster& cluster, const std::string& name) {
  HostileClient client(cluster.grpc_port());
  return client.Join(name, JoinToken(name));
}

TEST(SecurityTest, RevokedTokenEndsItsWorkersSession) {
  Cluster cluster("security-revoke", kJob);
  const std::string tokens = cluster.dir() + "/tokens";
  WriteFile(tokens, TokenLines({"alice", "bob"}));
  cluster.StartCoordinator({"--join_token_file=" + tokens});
  StartTokenWorker(cluster, "alice");
  Process& bob = StartTokenWorker(cluster, "bob");
  ASSERT_TRUE(KeepsTraining(cluster, "alice", 0) && KeepsTraining(cluster, "bob", 0)) << cluster.Logs();

  WriteFile(tokens, TokenLines({"alice"}));
  cluster.coordinator().Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return !HasActiveSession(cluster, "bob"); }, absl::Seconds(3))) << cluster.Status().dump();
  const int64_t alice_tasks = TasksDone(cluster, "alice");
  // Its next call finds the session gone; joining again, the revoked token
  // is refused, which a worker takes as final.
  const std::optional<int> bob_exit = bob.Wait(kSettle);
  ASSERT_TRUE(bob_exit.has_value()) << "the revoked worker is still running\n" << cluster.Logs();
  EXPECT_NE(*bob_exit, 0);
  EXPECT_THAT(bob.Log(), HasSubstr("the coordinator refused to let us join: bad join token"));
  EXPECT_FALSE(HasActiveSession(cluster, "bob")) << cluster.Status().dump();
  EXPECT_TRUE(KeepsTraining(cluster, "alice", alice_tasks)) << cluster.Logs();
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("join tokens reloaded: 1 token(s); 1 revoked session(s) ended"));
}

TEST(SecurityTest, TokenFileThatNoLongerParsesKeepsTheOldTokens) {
  Cluster cluster("security-badfile", kJob);
  const std::string tokens = cluster.dir() + "/tokens";
  WriteFile(tokens, TokenLines({"alice"}));
  cluster.StartCoordinator({"--join_token_file=" + tokens});
  StartTokenWorker(cluster, "alice");
  ASSERT_TRUE(KeepsTraining(cluster, "alice", 0)) << cluster.Logs();

  // Three fields on a line; had it been taken as an empty table, anyone
  // (bob) could join.
  WriteFile(tokens, TokenLines({"alice"}) + "bob " + JoinToken("bob") + " extra\n");
  cluster.coordinator().Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] { return absl::StrContains(cluster.coordinator().Log(), "keeping the tokens loaded before"); }, kSettle))
      << cluster.coordinator().Log();
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("--join_token_file"));
  EXPECT_TRUE(HasActiveSession(cluster, "alice")) << cluster.Status().dump();
  EXPECT_TRUE(KeepsTraining(cluster, "alice", TasksDone(cluster, "alice"))) << cluster.Logs();
  EXPECT_EQ(JoinAs(cluster, "bob").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(SecurityTest, BanOutlivesACoordinatorKillUntilLifted) {
  Cluster cluster("security-ban", kJob);
  const std::string tokens = cluster.dir() + "/tokens";
  const std::string unban = cluster.dir() + "/unban";
  const std::string state_dir = cluster.dir() + "/state";
  WriteFile(tokens, TokenLines({"mallory"}));
  WriteFile(unban, "");
  const std::vector<std::string> flags = {"--join_token_file=" + tokens, "--unban_file=" + unban,
                                          "--state_dir=" + state_dir};
  const std::string identity = TokenIdentity("mallory");
  cluster.StartCoordinator(flags);

  HostileClient mallory(cluster.grpc_port());
  ASSERT_TRUE(mallory.Join("mallory", JoinToken("mallory")).ok());
  ASSERT_EQ(SubmitInvalidUntilBanned(mallory), grpc::StatusCode::PERMISSION_DENIED) << "never banned";
  grpc::Status joined = JoinAs(cluster, "mallory");
  EXPECT_EQ(joined.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(joined.error_message(), HasSubstr("banned until"));
  const std::vector<json> records = WorkerRecords(cluster, "mallory");
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().value("state", ""), "banned") << records.front().dump();
  // No worker trains here: the ban is the only thing the run has to save.
  ASSERT_TRUE(WaitFor([&] { return CheckpointHoldsBan(state_dir, identity); }, kSettle))
      << "no checkpoint holds the ban\n"
      << cluster.Logs();

  cluster.coordinator().Signal(SIGKILL);
  ASSERT_TRUE(cluster.coordinator().Wait(kSettle).has_value());
  cluster.StartCoordinator(flags);
  joined = JoinAs(cluster, "mallory");
  EXPECT_EQ(joined.error_code(), grpc::StatusCode::PERMISSION_DENIED) << "the ban did not survive the restart";
  EXPECT_THAT(joined.error_message(), HasSubstr("banned until"));
  EXPECT_TRUE(ListsBan(cluster.Status(), identity)) << cluster.Status().dump();

  WriteFile(unban, identity + "\n");
  cluster.coordinator().Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return JoinAs(cluster, "mallory").ok(); }, kSettle)) << cluster.coordinator().Log();
  EXPECT_FALSE(ListsBan(cluster.Status(), identity)) << cluster.Status().dump();
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("ban lifted: " + identity));
}

// Where `secret` shows up in `text` (as it is, or as the raw bytes of its
// hex form), for a failure message; "" when nowhere.
std::string FindSecret(const std::string& text, const std::string& secret) {
  if (absl::StrContains(text, secret)) return "as text";
  if (secret.size() == 64 && absl::StrContains(text, absl::HexStringToBytes(secret))) return "as raw bytes";
  return "";
}

// Everything under `dir`, file by file.
std::vector<std::pair<std::string, std::string>> FilesUnder(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    absl::StatusOr<std::string> bytes = ReadFile(entry.path().string());
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    files.emplace_back(entry.path().string(), bytes.value_or(""));
  }
  return files;
}

TEST(SecurityTest, SecretsStayOutOfLogsStatusAndCheckpoints) {
  Cluster cluster("security-secrets", kJob);
  const std::string tokens = cluster.dir() + "/tokens";
  const std::string state_dir = cluster.dir() + "/state";
  WriteFile(tokens, TokenLines({"alice", "mallory"}));
  cluster.StartCoordinator({"--join_token_file=" + tokens, "--state_dir=" + state_dir});
  StartTokenWorker(cluster, "alice");

  // Sessions of the attacker: one it left, one refused a bad submit and
  // then presented with a byte flipped (nearly the whole secret).
  std::vector<std::string> secrets = {JoinToken("alice"), JoinToken("mallory")};
  HostileClient mallory(cluster.grpc_port());
  ASSERT_TRUE(mallory.Join("mallory", JoinToken("mallory")).ok());
  secrets.push_back(mallory.session());
  EXPECT_TRUE(mallory.Heartbeat().ok());
  EXPECT_TRUE(mallory.Leave().ok());
  ASSERT_TRUE(mallory.Join("mallory", JoinToken("mallory")).ok());
  secrets.push_back(mallory.session());
  absl::StatusOr<Task> task = mallory.LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(mallory.Upload(HeaderFor(*task, "bogus", 4), {}, false).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string flipped = mallory.session();
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  mallory.set_session(flipped);
  secrets.push_back(flipped);
  EXPECT_EQ(mallory.Heartbeat().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(KeepsTraining(cluster, "alice", 0)) << cluster.Logs();
  ASSERT_TRUE(WaitFor([&] { return !ListCheckpoints(state_dir).empty(); }, kSettle)) << cluster.Logs();

  std::vector<std::pair<std::string, std::string>> places = {
      {"/api/status", cluster.Text("/api/status")},
      {"/api/history", cluster.Text("/api/history")},
      {"/api/ledger", cluster.Text("/api/ledger")},
  };
  // Stopped cleanly, it also writes whatever moved since its last checkpoint.
  cluster.coordinator().Signal(SIGTERM);
  ASSERT_EQ(cluster.coordinator().Wait(kSettle), 0) << cluster.coordinator().Log();
  places.emplace_back("the coordinator's log", cluster.coordinator().Log());
  for (auto& file : FilesUnder(state_dir)) places.push_back(std::move(file));
  for (const auto& [where, text] : places) {
    EXPECT_FALSE(text.empty()) << where << " is empty";
    for (const std::string& secret : secrets) {
      EXPECT_EQ(FindSecret(text, secret), "") << "a secret in " << where;
    }
  }
}

}  // namespace
}  // namespace tributary::testing
