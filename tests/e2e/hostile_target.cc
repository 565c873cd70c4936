#include "tests/e2e/hostile_target.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "gtest/gtest.h"

namespace tributary::testing {
namespace {

using nlohmann::json;

constexpr char kHonest[] = "honest";
constexpr char kObserver[] = "observer";

int64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    int64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line.substr(6)), " kB"), &kib)) {
      return kib * 1024;
    }
  }
  return 0;
}

std::string TokenFile(std::vector<std::string> identities) {
  identities.push_back(kHonest);
  identities.push_back(kObserver);
  std::string lines;
  for (const std::string& identity : identities) absl::StrAppend(&lines, identity, " ", JoinToken(identity), "\n");
  return lines;
}

}  // namespace

std::string JoinToken(const std::string& identity) { return absl::StrCat("tok-", identity, "-5b1f0c2e9a7d4e3f"); }

AttackTarget::AttackTarget(const std::string& name, const std::string& job, const std::vector<std::string>& identities,
                           bool honest_worker)
    : cluster_(name, job) {
  WriteFile(cluster_.dir() + "/tokens", TokenFile(identities));
  WriteFile(cluster_.dir() + "/honest.token", JoinToken(kHonest) + "\n");
  cluster_.StartCoordinator({"--join_token_file=" + cluster_.dir() + "/tokens"});
  observer_ = std::make_unique<HostileClient>(port());
  const grpc::Status joined = observer_->Join(kObserver, JoinToken(kObserver));
  if (!joined.ok()) {
    ADD_FAILURE() << "the observer could not join: " << joined.error_message() << "\n" << cluster_.Logs();
    return;
  }
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(observer_->joined().model());
  absl::StatusOr<std::unique_ptr<Codec>> codec =
      model.ok() ? CreateCodec(observer_->joined().codec(), (*model)->layout()) : model.status();
  if (!codec.ok()) {
    ADD_FAILURE() << "the job's codec: " << codec.status();
    return;
  }
  model_ = *std::move(model);
  codec_ = *std::move(codec);
  if (honest_worker) {
    honest_ =
        &cluster_.StartWorker(kHonest, {"--join_token_file=" + cluster_.dir() + "/honest.token",
                                        "--test_task_delay=300ms", "--cache_dir=" + cluster_.dir() + "/honest-cache"});
    EXPECT_TRUE(WaitFor([&] { return HonestTasksDone() > 0; }, absl::Seconds(60))) << cluster_.Logs();
    honest_tasks_start_ = HonestTasksDone();
  }
  rss_start_ = RssBytes(cluster_.coordinator().pid());
}

AttackTarget::~AttackTarget() {
  std::printf("%s: coordinator RSS %.1f MiB at the start, at most %.1f MiB after a test", cluster_.dir().c_str(),
              rss_start_ / 1048576.0, rss_max_ / 1048576.0);
  if (honest_ != nullptr) {
    std::printf("; the honest worker did %lld tasks before the attacks, %lld by the end",
                static_cast<long long>(honest_tasks_start_), static_cast<long long>(HonestTasksDone()));
  }
  std::printf("\n");
}

std::unique_ptr<HostileClient> AttackTarget::Attacker(const std::string& identity) {
  auto client = std::make_unique<HostileClient>(port());
  const grpc::Status status = client->Join(identity, JoinToken(identity));
  if (!status.ok()) {
    ADD_FAILURE() << identity << " could not join: " << status.error_message();
    return nullptr;
  }
  return client;
}

std::string AttackTarget::codec_name() const { return observer_->joined().codec().name(); }

std::string AttackTarget::Encode(absl::Span<const float> update) const { return codec_->NewEncoder()->Encode(update); }

std::string AttackTarget::ValidPayload() const { return Encode(std::vector<float>(num_params(), 0.0f)); }

ModelState AttackTarget::Freeze() {
  if (honest_ != nullptr) {
    // Some progress between pauses, and a heartbeat just before this one:
    // a pause of a few seconds stays far from its heartbeat timeout.
    const int64_t tasks = HonestTasksDone();
    WaitFor([&] { return HonestTasksDone() > tasks; }, absl::Seconds(3));
    WaitFor([&] { return HonestLastSeenS() < 0.3; }, absl::Seconds(3));
    honest_->Signal(SIGSTOP);
  }
  // An upload it finished just before the pause may still be applied.
  ModelState state;
  ModelState previous{~uint64_t{0}, -1, ""};
  for (int i = 0; i < 50 && (state.version != previous.version || state.updates_applied != previous.updates_applied);
       ++i) {
    previous = state;
    absl::SleepFor(absl::Milliseconds(150));
    const json status = Status();
    state.version = status.value("model_version", uint64_t{0});
    state.updates_applied = status.value("updates_applied", int64_t{0});
  }
  state.sha256_hex = CurrentModelSha256(state.version);
  return state;
}

void AttackTarget::Thaw() {
  if (honest_ != nullptr) honest_->Signal(SIGCONT);
}

void AttackTarget::ExpectUntouched(const ModelState& before) {
  const json status = Status();
  EXPECT_EQ(status.value("model_version", uint64_t{0}), before.version);
  EXPECT_EQ(status.value("updates_applied", int64_t{0}), before.updates_applied);
  EXPECT_EQ(CurrentModelSha256(before.version), before.sha256_hex) << "the weights changed";
}

int64_t AttackTarget::HonestTasksDone() const {
  int64_t tasks = 0;
  for (const json& w : Status().value("workers", json::array())) {
    if (w.value("name", "") == kHonest) tasks += w.value("tasks_done", int64_t{0});
  }
  return tasks;
}

void AttackTarget::ExpectBoundedAndUnharmed() {
  const int64_t rss = RssBytes(cluster_.coordinator().pid());
  rss_max_ = std::max(rss_max_, rss);
  EXPECT_LT(rss, rss_start_ + kRssHeadroomBytes) << "RSS grew from " << rss_start_ << " bytes";
  for (const json& w : Status().value("workers", json::array())) {
    const std::string name = w.value("name", "");
    if (absl::StartsWith(name, "atk-")) {
      EXPECT_EQ(w.value("updates_accepted", int64_t{0}), 0) << w.dump();
    }
    if (name == kHonest) {
      EXPECT_NE(w.value("state", ""), "banned") << w.dump();
    }
  }
}

double AttackTarget::HonestLastSeenS() const {
  double last_seen = 1e9;
  for (const json& w : Status().value("workers", json::array())) {
    if (w.value("name", "") == kHonest && w.value("state", "") == "active") {
      last_seen = std::min(last_seen, w.value("last_seen_s", 1e9));
    }
  }
  return last_seen;
}

// A lease makes the coordinator keep the bytes of the version it is based
// on, so that version can be fetched.
std::string AttackTarget::CurrentModelSha256(uint64_t version) {
  if (!observer_->Heartbeat().ok()) observer_->Join(kObserver, JoinToken(kObserver));
  absl::StatusOr<tributary::v1::Task> task = observer_->LeaseTask();
  EXPECT_TRUE(task.ok()) << task.status();
  if (!task.ok()) return "";
  EXPECT_EQ(task->base_version(), version) << "the model moved";
  absl::StatusOr<std::string> model = observer_->FetchModel(task->base_version());
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? Sha256Hex(Sha256(*model)) : "";
}

}  // namespace tributary::testing
