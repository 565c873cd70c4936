// The worker's status line on a real terminal: a worker in a detached tmux
// session of 160x10, its pane read with `tmux capture-pane` while it trains,
// while its coordinator is SIGKILLed, after the coordinator restarts from
// --state_dir, and when the worker is stopped with Ctrl-C. The panes are
// printed (and kept in the test's directory as panes.txt) for a person to
// look at. Skipped when tmux is not installed.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kColumns = 160, kRows = 10;
constexpr absl::Duration kPhaseTimeout = absl::Seconds(60);

// stdout (and stderr) of a shell command; its exit status in `status`.
std::string Shell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int raw = pclose(pipe);
  if (status != nullptr) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// A tmux server of the test's own (its socket in the test's directory, no
// configuration read), killed with everything in it when the test ends.
class Tmux {
 public:
  explicit Tmux(const std::string& dir) : socket_(dir + "/tmux.sock") {}
  ~Tmux() {
    // The pane's process (the worker, exec'd) gets SIGHUP and leaves; one
    // that has not after a few seconds is killed.
    pid_t pid = 0;
    const bool known = absl::SimpleAtoi(Run("display-message -p -t worker '#{pane_pid}'"), &pid) && pid > 0;
    Run("kill-server");
    if (known && !WaitFor([&] { return kill(pid, 0) != 0; }, absl::Seconds(5))) kill(pid, SIGKILL);
  }

  std::string Run(const std::string& args, int* status = nullptr) const {
    return Shell(absl::StrCat("tmux -S ", socket_, " -f /dev/null ", args), status);
  }

  // Every row the pane has shown, its scrollback included: a line written
  // anew (rather than over the last) always adds one.
  std::vector<std::string> Pane() const {
    std::vector<std::string> rows = absl::StrSplit(Run("capture-pane -p -S - -t worker"), '\n');
    while (!rows.empty() && rows.back().empty()) rows.pop_back();
    return rows;
  }

 private:
  std::string socket_;
};

int NonEmptyRows(const std::vector<std::string>& pane) {
  int n = 0;
  for (const std::string& row : pane) n += !row.empty();
  return n;
}

// The status line: the pane's last non-empty row.
std::string StatusLine(const std::vector<std::string>& pane) { return pane.empty() ? "" : pane.back(); }

// "... | 12 tasks, model v118" -> 12; -1 when the line has no count.
int TasksDone(const std::string& line) {
  static const std::regex kCount(R"((\d+) tasks?, model v\d+$)");
  std::smatch match;
  return std::regex_search(line, match, kCount) ? std::stoi(match[1]) : -1;
}

// The pane's status line says the worker computes a task and has done at
// least `tasks`.
bool Training(const std::vector<std::string>& pane, int tasks) {
  static const std::regex kTask(R"(^task \d+ \(shard \d+\)( step [1-4]/4)? \| )");
  return std::regex_search(StatusLine(pane), kTask) && TasksDone(StatusLine(pane)) >= tasks;
}

bool Unreachable(const std::vector<std::string>& pane) {
  return absl::StartsWith(StatusLine(pane), "coordinator unreachable, retrying in ");
}

bool Exited(const std::vector<std::string>& pane) {
  return absl::StrContains(absl::StrJoin(pane, "\n"), "exiting; peak RSS");
}

// A tiny byte GPT (tasks of 4 local steps, a few milliseconds each) on a
// made-up text in `dir`, checkpointed every second.
std::string TinyGptJob(const std::string& dir) {
  const std::vector<std::string> words = {"the",   "quick", "brown",   "fox", "jumps", "over",   "a",  "lazy", "dog",
                                          "while", "seven", "wizards", "hex", "bold",  "zebras", "at", "dawn"};
  std::string text;
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&text, words[(i * 7 + i / 5) % words.size()], i % 11 ? " " : "\n");
  WriteFile(dir + "/corpus.txt", text);
  return absl::StrCat("name: \"e2e-tmux\"\n", "model { gpt { layers: 1 heads: 2 channels: 32 context: 32 } }\n",
                      "data { text { files: \"", dir, "/corpus.txt\" } shard_examples: 16 }\n", "local_steps: 4\n",
                      "inner_optimizer { kind: ADAMW lr: 0.003 }\n", "budget { epochs: 10000 }\n",
                      "eval { interval_versions: 100000 max_examples: 64 }\n", "checkpoint { interval_s: 1 }\n");
}

// Samples the pane every 50 ms until `done` holds of it or the time is up;
// every pane seen goes to `seen`.
bool WatchPane(const Tmux& tmux, const std::function<bool(const std::vector<std::string>&)>& done,
               std::vector<std::vector<std::string>>* seen) {
  return WaitFor(
      [&] {
        seen->push_back(tmux.Pane());
        return done(seen->back());
      },
      kPhaseTimeout);
}

// Rows that look like the status line ("... | 12 tasks, model v118").
int StatusRows(const std::vector<std::string>& pane) {
  int n = 0;
  for (const std::string& row : pane) n += TasksDone(row) >= 0;
  return n;
}

// While the task count grows by `tasks`, the status line is rewritten in
// place: never more than one row of the pane (its scrollback included)
// looks like it, it changes, and the pane gains no rows (up to a warning or
// two: a busy coordinator writing a checkpoint may refuse a stream).
// Returns the last pane.
std::vector<std::string> ExpectUpdatedInPlace(const Tmux& tmux, int tasks, const std::string& phase) {
  std::vector<std::vector<std::string>> seen = {tmux.Pane()};
  const int rows = NonEmptyRows(seen.front()), first = TasksDone(StatusLine(seen.front()));
  // Until the count grew and the line was redrawn a few times (a fast
  // worker may do the tasks between two redraws).
  std::set<std::string> lines = {StatusLine(seen.front())};
  EXPECT_TRUE(WatchPane(
      tmux,
      [&](const auto& pane) {
        lines.insert(StatusLine(pane));
        return TasksDone(StatusLine(pane)) >= first + tasks && lines.size() >= 3;
      },
      &seen))
      << phase << ": the task count stopped at " << TasksDone(StatusLine(seen.back())) << " after "
      << lines.size() << " different lines";
  for (const auto& pane : seen) {
    EXPECT_EQ(StatusRows(pane), 1) << phase << ": the status line was not overwritten:\n" << absl::StrJoin(pane, "\n");
    EXPECT_LE(NonEmptyRows(pane), rows + 2) << phase << ": rows were added:\n" << absl::StrJoin(pane, "\n");
  }
  return seen.back();
}

TEST(TmuxTest, TheStatusLineUpdatesInPlaceThroughACoordinatorRestart) {
  int status = 0;
  Shell("tmux -V", &status);
  if (status != 0) GTEST_SKIP() << "tmux is not installed (Debian package tmux; tools/install-deps.sh adds it)";

  Cluster cluster("tmux", "");
  WriteFile(cluster.dir() + "/job.textproto", TinyGptJob(cluster.dir()));
  // The worker must find the restarted coordinator where it left it.
  const std::string state_dir = cluster.dir() + "/state";
  const std::vector<std::string> coordinator_flags = {absl::StrCat("--listen=127.0.0.1:", FreePort()),
                                                      "--state_dir=" + state_dir};
  cluster.StartCoordinator(coordinator_flags);

  Tmux tmux(cluster.dir());
  const std::string worker =
      absl::StrCat("exec ", Binary("tributary-worker"), " --coordinator=127.0.0.1:", cluster.grpc_port(),
                   " --name=tmux --threads=1 --test_slowdown=2");
  tmux.Run(absl::StrCat("new-session -d -s worker -x ", kColumns, " -y ", kRows, " '", worker,
                        "' \\; set-option -t worker remain-on-exit on"),
           &status);
  ASSERT_EQ(status, 0) << "tmux new-session failed";
  std::string panes;
  auto keep = [&](const std::string& title, const std::vector<std::string>& pane) {
    absl::StrAppend(&panes, "--- ", title, "\n", absl::StrJoin(pane, "\n"), "\n");
  };

  // Training: the line changes, the pane does not grow.
  std::vector<std::vector<std::string>> seen;
  ASSERT_TRUE(WatchPane(
      tmux, [](const auto& pane) { return Training(pane, 5); }, &seen))
      << absl::StrJoin(seen.back(), "\n") << "\n"
      << cluster.Logs();
  keep("training", ExpectUpdatedInPlace(tmux, 50, "training"));
  EXPECT_LE(NonEmptyRows(tmux.Pane()), 4) << absl::StrJoin(tmux.Pane(), "\n");
  // Between tasks the line says "waiting for a task"; while one runs it
  // shows the rate, the loss and the lease.
  EXPECT_TRUE(WatchPane(
      tmux,
      [](const auto& pane) {
        const std::string line = StatusLine(pane);
        return absl::StrContains(line, " tok/s | loss ") && absl::StrContains(line, " | lease ");
      },
      &seen))
      << StatusLine(seen.back());

  // The coordinator dies (with a checkpoint to resume from): the line says
  // so and counts down to the next try.
  ASSERT_TRUE(WaitFor([&] { return !ListCheckpoints(state_dir).empty(); }, kPhaseTimeout)) << cluster.Logs();
  const int tasks_at_kill = TasksDone(StatusLine(tmux.Pane()));
  cluster.coordinator().Signal(SIGKILL);
  cluster.coordinator().Wait(absl::Seconds(10));
  ASSERT_TRUE(WatchPane(tmux, Unreachable, &seen)) << absl::StrJoin(seen.back(), "\n");
  keep("coordinator killed", seen.back());
  absl::SleepFor(absl::Seconds(3));
  keep("3 s later", tmux.Pane());
  EXPECT_THAT(StatusLine(tmux.Pane()), StartsWith("coordinator unreachable, retrying "));

  // It comes back from its checkpoint: the worker rejoins and trains on.
  cluster.StartCoordinator(coordinator_flags);
  ASSERT_TRUE(WatchPane(
      tmux, [&](const auto& pane) { return Training(pane, tasks_at_kill + 5); }, &seen))
      << absl::StrJoin(seen.back(), "\n") << "\n"
      << cluster.Logs();
  keep("coordinator restarted", ExpectUpdatedInPlace(tmux, 50, "after the restart"));
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("resumed from"));
  EXPECT_THAT(StatusLine(tmux.Pane()), Not(HasSubstr("unreachable")));

  // Ctrl-C: the worker leaves; its last status stays, finished by a newline.
  tmux.Run("send-keys -t worker C-c");
  ASSERT_TRUE(WatchPane(tmux, Exited, &seen)) << absl::StrJoin(seen.back(), "\n");
  const std::vector<std::string> last = seen.back();
  keep("Ctrl-C", last);
  const std::string all = absl::StrJoin(last, "\n");
  EXPECT_THAT(all, HasSubstr("\nstopped | "));
  EXPECT_THAT(all, HasSubstr("] stopped; this worker did "));

  std::printf("%s", panes.c_str());
  WriteFile(cluster.dir() + "/panes.txt", panes);
}

}  // namespace
}  // namespace tributary::testing
