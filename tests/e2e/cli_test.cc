// Bad input from the command line or a job file: a clear message and a
// non-zero exit, never a crash. And a worker with no coordinator to talk to.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Outcome {
  std::optional<int> exit_code;
  std::string log;
};

Outcome RunToEnd(const std::string& test, const std::vector<std::string>& argv) {
  const std::string log = TestDir(test) + "/out.log";
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(argv, log);
  EXPECT_TRUE(p.ok()) << p.status();
  Outcome outcome;
  outcome.exit_code = (*p)->Wait(absl::Seconds(60));
  outcome.log = (*p)->Log();
  return outcome;
}

std::vector<std::string> Coordinator(std::vector<std::string> flags) {
  flags.insert(flags.begin(), Binary("tributary-coordinator"));
  flags.push_back(absl::StrCat("--listen=127.0.0.1:", FreePort()));
  flags.push_back(absl::StrCat("--http=127.0.0.1:", FreePort()));
  return flags;
}

TEST(CliTest, MissingJobFileIsNamed) {
  const Outcome o = RunToEnd("missing", Coordinator({"--job=/nonexistent/job.textproto"}));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("/nonexistent/job.textproto"));
}

TEST(CliTest, MalformedJobFileNamesFileAndLine) {
  const std::string path = TestDir("malformed") + "/bad.textproto";
  WriteFile(path, "name: \"x\"\nbudget {\n  epochs: many\n}\n");
  const Outcome o = RunToEnd("malformed", Coordinator({"--job=" + path}));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr(path + ":3:"));
}

TEST(CliTest, InvalidJobValueNamesFileLineAndField) {
  const std::string path = TestDir("invalid") + "/bad.textproto";
  WriteFile(path, "name: \"x\"\noptimizer { lr: -1 }\n");
  const Outcome o = RunToEnd("invalid", Coordinator({"--job=" + path}));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr(path + ":2: optimizer.lr"));
}

TEST(CliTest, UnknownFlagIsRefused) {
  const Outcome c = RunToEnd("flag-c", Coordinator({"--no_such_flag=1"}));
  EXPECT_NE(c.exit_code.value_or(0), 0);
  EXPECT_THAT(c.log, HasSubstr("no_such_flag"));
  const Outcome w = RunToEnd("flag-w", {Binary("tributary-worker"), "--bogus"});
  EXPECT_NE(w.exit_code.value_or(0), 0);
  EXPECT_THAT(w.log, HasSubstr("bogus"));
}

TEST(CliTest, UnreachableDatasetIsNamed) {
  const std::string path = TestDir("dataset") + "/job.textproto";
  WriteFile(path, "data { fashion_mnist { dir: \"/nonexistent/fashion\" } }\n");
  const Outcome o = RunToEnd("dataset", Coordinator({"--job=" + path}));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("/nonexistent/fashion/train-images-idx3-ubyte.gz"));
}

TEST(CliTest, BusyPortIsNamed) {
  const int port = FreePort();
  const std::string dir = TestDir("busy");
  auto first = Process::Start({Binary("tributary-coordinator"), absl::StrCat("--listen=127.0.0.1:", port),
                               absl::StrCat("--http=127.0.0.1:", FreePort())},
                              dir + "/first.log");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WaitFor([&] { return (*first)->Log().find("status page") != std::string::npos; },
                      absl::Seconds(60)));
  const Outcome o = RunToEnd("busy", {Binary("tributary-coordinator"), absl::StrCat("--listen=127.0.0.1:", port),
                                      absl::StrCat("--http=127.0.0.1:", FreePort())});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--listen"));
}

// --help lists the binary's own flags (Abseil's default lists only flags
// from a file named after the program, and answered "No flags matched").
TEST(CliTest, HelpListsTheBinarysOwnFlags) {
  struct Case {
    const char* binary;
    std::vector<const char*> flags;
  };
  const std::vector<Case> cases = {
      {"tributary-coordinator", {"--job", "--listen", "--http", "--state_dir", "--etcd"}},
      {"tributary-worker", {"--coordinator", "--device", "--quiet", "--verbose", "--blob_url"}},
      {"tributary-export", {"--checkpoint", "--format", "--out"}},
      {"tributary-sample", {"--checkpoint", "--prompt"}},
  };
  for (const Case& c : cases) {
    const Outcome o = RunToEnd("help", {Binary(c.binary), "--help"});
    EXPECT_THAT(o.log, Not(HasSubstr("No flags matched"))) << c.binary;
    for (const char* flag : c.flags) EXPECT_THAT(o.log, HasSubstr(flag)) << c.binary << " --help";
    // Abseil's own flags are for --helpfull.
    EXPECT_THAT(o.log, Not(HasSubstr("--flagfile"))) << c.binary;
  }
}

// A word that is not a flag is refused, not ignored: a worker given its
// coordinator's address without --coordinator= would otherwise go to the default.
TEST(CliTest, AnArgumentThatIsNotAFlagIsRefused) {
  const Outcome o = RunToEnd("positional", {Binary("tributary-worker"), "10.0.0.5:7070"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_THAT(o.log, HasSubstr("unexpected argument '10.0.0.5:7070'"));
}

TEST(CliTest, WorkerRefusesAnUnknownDevice) {
  const Outcome o = RunToEnd("device", {Binary("tributary-worker"), "--device=tpu"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--device"));
}

// --etcd's companions are checked before anything is started, each error
// naming its flag (nothing here needs an etcd).
TEST(CliTest, FailoverFlagsAreCheckedAndNamed) {
  const std::string dir = TestDir("etcd-flags");
  const std::string mlp = "--job=" + std::string(TRIBUTARY_SOURCE_DIR) + "/deploy/jobs/mlp.textproto";
  struct Case {
    std::vector<std::string> flags;
    const char* named;
  };
  const std::vector<Case> cases = {
      {{mlp, "--etcd=127.0.0.1:2379"}, "--etcd needs --state_dir"},
      {{mlp, "--etcd=no-port", "--state_dir=" + dir}, "--etcd: \"no-port\" is not HOST:PORT"},
      {{mlp, "--etcd=127.0.0.1:2379", "--state_dir=" + dir, "--etcd_ttl_s=1"}, "--etcd_ttl_s"},
      {{mlp, "--etcd=127.0.0.1:2379", "--state_dir=" + dir, "--advertise=nowhere"}, "--advertise"},
  };
  for (const Case& c : cases) {
    const Outcome o = RunToEnd("etcd-flags", Coordinator(c.flags));
    EXPECT_EQ(o.exit_code, 1) << o.log;
    EXPECT_THAT(o.log, HasSubstr(c.named));
  }
  // A port the coordinator picks cannot be told to workers.
  const Outcome o = RunToEnd("etcd-port", {Binary("tributary-coordinator"), mlp, "--etcd=127.0.0.1:2379",
                                           "--state_dir=" + dir, "--listen=127.0.0.1:0"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--listen: with --etcd the port must be fixed"));
  const Outcome w = RunToEnd("coordinator-list", {Binary("tributary-worker"), "--coordinator=a:1,b"});
  EXPECT_EQ(w.exit_code, 1);
  EXPECT_THAT(w.log, HasSubstr("--coordinator: \"b\" is not HOST:PORT"));
}

TEST(CliTest, WorkerWithoutCoordinatorRetriesWithBackoffAndLeavesOnSigterm) {
  const std::string log = TestDir("retry") + "/worker.log";
  auto worker = Process::Start({Binary("tributary-worker"),
                                absl::StrCat("--coordinator=127.0.0.1:", FreePort())}, log);
  ASSERT_TRUE(worker.ok());
  auto retries = [&] {
    const std::string text = (*worker)->Log();
    int n = 0;
    for (size_t at = text.find("retrying in"); at != std::string::npos; at = text.find("retrying in", at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return retries() >= 2; }, absl::Seconds(30))) << (*worker)->Log();
  EXPECT_THAT((*worker)->Log(), HasSubstr("unreachable"));
  EXPECT_FALSE((*worker)->Wait(absl::ZeroDuration()).has_value()) << "still running, still trying";
  (*worker)->Signal(SIGTERM);
  EXPECT_EQ((*worker)->Wait(absl::Seconds(10)), 0) << (*worker)->Log();
}

}  // namespace
}  // namespace tributary::testing
