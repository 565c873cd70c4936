// End to end: TLS and mutual TLS on the gRPC port, with certificates that
// deploy/make-certs.sh makes at run time. With the right certificates a job
// trains to the end; a plaintext worker, a worker that trusts another CA
// and, under mutual TLS, a worker without a certificate the CA signed never
// join.
#include <signal.h>
#include <stdio.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/file.h"
#include "common/pem.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Five shards of a small MLP: a run takes seconds.
constexpr char kJob[] = R"(
  name: "e2e-tls"
  data { fashion_mnist { max_train_examples: 1000 } shard_examples: 200 }
  budget { epochs: 1 }
  eval { max_examples: 500 }
)";

constexpr absl::Duration kRunTimeout = absl::Minutes(2);

// The files deploy/make-certs.sh wrote into `dir`.
struct Certs {
  std::string dir;
  std::string ca() const { return dir + "/ca.pem"; }
  std::string cert(const std::string& name) const { return dir + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir + "/" + name + ".key"; }
};

bool HaveOpenssl() { return std::system("command -v openssl > /dev/null 2>&1") == 0; }

// A CA, a server certificate for 127.0.0.1 and a client certificate
// "client-alice" in `dir`.
Certs MakeCerts(const std::string& dir) {
  const std::string log = dir + ".log";
  absl::StatusOr<std::unique_ptr<Process>> p =
      Process::Start({"/bin/bash", std::string(TRIBUTARY_SOURCE_DIR) + "/deploy/make-certs.sh", dir, "127.0.0.1",
                      "localhost", "--clients=alice"},
                     log);
  EXPECT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->Wait(absl::Seconds(30)), 0) << (*p)->Log();
  return Certs{dir};
}

std::vector<std::string> ServerFlags(const Certs& certs) {
  return {"--tls_cert=" + certs.cert("server"), "--tls_key=" + certs.key("server")};
}

std::vector<std::string> MutualServerFlags(const Certs& certs) {
  std::vector<std::string> flags = ServerFlags(certs);
  flags.push_back("--tls_client_ca=" + certs.ca());
  return flags;
}

std::vector<std::string> ClientFlags(const Certs& certs) {
  return {"--tls_ca=" + certs.ca(), "--tls_cert=" + certs.cert("client-alice"),
          "--tls_key=" + certs.key("client-alice")};
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveOpenssl()) GTEST_SKIP() << "openssl is not installed (apt-get install openssl): no certificates";
  }

  // Starts a worker with `flags`, sees its join fail, and kills it (it
  // would retry forever; leaving cleanly would wait for its next attempt).
  static void ExpectWorkerCannotJoin(Cluster& cluster, const std::string& name,
                                     const std::vector<std::string>& flags) {
    Process& worker = cluster.StartWorker(name, flags);
    ASSERT_TRUE(WaitFor([&] { return Count(worker.Log(), "unreachable") >= 1; }, absl::Seconds(30)))
        << cluster.Logs();
    EXPECT_TRUE(cluster.Status()["workers"].empty()) << cluster.Status().dump();
    worker.Signal(SIGKILL);
    worker.Wait(absl::Seconds(10));
  }

  // Runs the job to the end with the coordinator's and the worker's flags.
  static void ExpectJobTrainsToTheEnd(Cluster& cluster, const std::vector<std::string>& coordinator_flags,
                                      const std::vector<std::string>& worker_flags) {
    std::vector<std::string> flags = coordinator_flags;
    flags.push_back("--exit_when_done");
    Process& coordinator = cluster.StartCoordinator(flags);
    Process& worker = cluster.StartWorker("alice", worker_flags);
    EXPECT_EQ(coordinator.Wait(kRunTimeout), 0) << cluster.Logs();
    EXPECT_THAT(coordinator.Log(), HasSubstr("final: state=done"));
    EXPECT_THAT(coordinator.Log(), HasSubstr("shards_done=5/5"));
    EXPECT_EQ(worker.Wait(absl::Seconds(30)), 0) << cluster.Logs();
  }
};

TEST_F(TlsTest, PlaintextWorkerCannotJoinATlsCoordinator) {
  Cluster cluster("tls-plaintext", kJob);
  const Certs certs = MakeCerts(cluster.dir() + "/certs");
  cluster.StartCoordinator(ServerFlags(certs));
  ExpectWorkerCannotJoin(cluster, "plain", {});
}

TEST_F(TlsTest, WorkerThatTrustsAnotherCaCannotJoin) {
  Cluster cluster("tls-other-ca", kJob);
  const Certs certs = MakeCerts(cluster.dir() + "/certs");
  const Certs other = MakeCerts(cluster.dir() + "/other");
  cluster.StartCoordinator(ServerFlags(certs));
  ExpectWorkerCannotJoin(cluster, "stranger", {"--tls_ca=" + other.ca()});
}

TEST_F(TlsTest, MutualTlsRefusesWorkersWithoutACertificateTheCaSigned) {
  Cluster cluster("tls-mutual-refused", kJob);
  const Certs certs = MakeCerts(cluster.dir() + "/certs");
  const Certs other = MakeCerts(cluster.dir() + "/other");
  cluster.StartCoordinator(MutualServerFlags(certs));
  ExpectWorkerCannotJoin(cluster, "anonymous", {"--tls_ca=" + certs.ca()});
  ExpectWorkerCannotJoin(cluster, "forger", {"--tls_ca=" + certs.ca(), "--tls_cert=" + other.cert("client-alice"),
                                             "--tls_key=" + other.key("client-alice")});
}

TEST_F(TlsTest, JobTrainsToTheEndOverTls) {
  Cluster cluster("tls-train", kJob);
  const Certs certs = MakeCerts(cluster.dir() + "/certs");
  ExpectJobTrainsToTheEnd(cluster, ServerFlags(certs), {"--tls_ca=" + certs.ca()});
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("gRPC with TLS (no client certificates)"));
  EXPECT_THAT(cluster.coordinator().Log(), Not(HasSubstr("plaintext")));
}

TEST_F(TlsTest, JobTrainsToTheEndOverMutualTls) {
  Cluster cluster("tls-mutual-train", kJob);
  const Certs certs = MakeCerts(cluster.dir() + "/certs");
  ExpectJobTrainsToTheEnd(cluster, MutualServerFlags(certs), ClientFlags(certs));
  EXPECT_THAT(cluster.coordinator().Log(), HasSubstr("gRPC with TLS (mutual"));
}

TEST_F(TlsTest, PlaintextCoordinatorWarnsOnce) {
  Cluster cluster("tls-none", kJob);
  Process& coordinator = cluster.StartCoordinator();
  coordinator.Signal(SIGTERM);
  EXPECT_EQ(coordinator.Wait(absl::Seconds(30)), 0) << cluster.Logs();
  EXPECT_EQ(Count(coordinator.Log(), "plaintext"), 1) << coordinator.Log();
}

TEST_F(TlsTest, HalfAKeyPairIsAFlagError) {
  const std::string dir = TestDir("tls-flags");
  const Certs certs = MakeCerts(dir + "/certs");
  absl::StatusOr<std::unique_ptr<Process>> coordinator = Process::Start(
      {Binary("tributary-coordinator"), "--tls_cert=" + certs.cert("server"), "--listen=127.0.0.1:0",
       "--http=127.0.0.1:0"},
      dir + "/coordinator.log");
  ASSERT_TRUE(coordinator.ok());
  EXPECT_EQ((*coordinator)->Wait(absl::Seconds(30)), 1);
  EXPECT_THAT((*coordinator)->Log(), HasSubstr("--tls_key"));
  absl::StatusOr<std::unique_ptr<Process>> worker = Process::Start(
      {Binary("tributary-worker"), "--tls_ca=" + certs.ca(), "--tls_key=" + certs.key("client-alice")},
      dir + "/worker.log");
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ((*worker)->Wait(absl::Seconds(30)), 1);
  EXPECT_THAT((*worker)->Log(), HasSubstr("--tls_cert"));
}

// What a coordinator with mutual TLS will know a worker by.
TEST_F(TlsTest, ClientFingerprintIsOpensslsSha256Fingerprint) {
  const Certs certs = MakeCerts(TestDir("tls-fingerprint") + "/certs");
  FILE* pipe = popen(absl::StrCat("openssl x509 -noout -fingerprint -sha256 -in ", certs.cert("client-alice")).c_str(),
                     "r");
  ASSERT_NE(pipe, nullptr);
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof(line), pipe), nullptr);
  pclose(pipe);
  // "sha256 Fingerprint=AB:CD:...".
  std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(line), '=');
  ASSERT_EQ(parts.size(), 2u) << line;
  const std::string expected = "sha256:" + absl::AsciiStrToLower(absl::StrReplaceAll(parts[1], {{":", ""}}));
  absl::StatusOr<std::string> pem = ReadFile(certs.cert("client-alice"));
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_EQ(CertificateFingerprint(*pem).value_or(""), expected);
}

}  // namespace
}  // namespace tributary::testing
