#include "coordinator/status_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;
constexpr absl::Duration kHeadTimeout = absl::Seconds(2);
// "Answers promptly": generous, for a loaded machine; no test measures speed.
constexpr absl::Duration kPrompt = absl::Seconds(3);
constexpr size_t kMaxResponseBytes = 1 << 20;
// Misbehaving clients come from 127.0.1.N, this many per address (under the
// per-client cap), so the probes from 127.0.0.1 are never over it.
constexpr int kClientsPerAddress = 8;

std::string AttackerAddress(int i) { return absl::StrCat("127.0.1.", 1 + i / kClientsPerAddress); }

// A TCP connection to 127.0.0.1:`port` from `source` (any 127/8 address is
// this machine, so tests can play several clients); -1 on failure. A send
// that blocks gives up after kPrompt.
int Connect(int port, const std::string& source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const timeval send_timeout{absl::ToInt64Seconds(kPrompt), 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  for (size_t sent = 0; sent < data.size();) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += n;
  }
  return true;
}

// Everything the server sends until it closes the connection, or what came
// by `timeout`.
std::string ReadUntilClosed(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string received;
  char buffer[4096];
  while (received.size() < kMaxResponseBytes) {
    pollfd p{fd, POLLIN, 0};
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0 || poll(&p, 1, static_cast<int>(ms)) != 1) break;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, n);
  }
  return received;
}

// True if the server closed `fd` by `timeout`.
bool ClosedWithin(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[256];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0 || poll(&p, 1, static_cast<int>(ms)) != 1) return false;
    if (recv(fd, buffer, sizeof(buffer), 0) <= 0) return true;
  }
}

struct Reply {
  int status = 0;  // 0: no response by the deadline
  std::string text;
};

// Sends `request` on a new connection and reads the reply, waiting kPrompt.
Reply Exchange(int port, const std::string& request, const std::string& source = "127.0.0.1") {
  const int fd = Connect(port, source);
  Reply reply;
  if (fd < 0 || !SendAll(fd, request)) return reply;
  reply.text = ReadUntilClosed(fd, kPrompt);
  close(fd);
  if (absl::StartsWith(reply.text, "HTTP/1.1 ")) absl::SimpleAtoi(reply.text.substr(9, 3), &reply.status);
  return reply;
}

std::string Get(const std::string& path, const std::string& headers = "") {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: localhost\r\n", headers, "\r\n");
}

// Pages resident in this process, in bytes.
int64_t ResidentBytes() {
  int64_t pages = 0;
  int64_t resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

HttpServerLimits TestLimits() {
  HttpServerLimits limits;
  limits.head_timeout = kHeadTimeout;
  limits.write_timeout = kHeadTimeout;
  return limits;
}

class StatusHttpTest : public ::testing::Test {
 protected:
  StatusHttpTest()
      : dataset_(TinyDataset(12, 4)),
        run_(TinyJob(), *dataset_, std::vector<float>(kNumParams, 0.0f), clock_),
        blobs_(*dataset_) {}

  void StartServer(const std::string& token = "", const HttpServerLimits& limits = TestLimits(),
                   std::optional<StatusHttpOptions::Leadership> leadership = std::nullopt) {
    StatusHttpOptions options;
    options.address = "127.0.0.1:0";
    options.bearer_token = token;
    options.limits = limits;
    options.leadership = std::move(leadership);
    absl::StatusOr<std::unique_ptr<StatusHttpServer>> server = StatusHttpServer::Start(options, run_, blobs_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int port() const { return server_->port(); }

  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  TrainingRun run_;
  BlobIndex blobs_;
  std::unique_ptr<StatusHttpServer> server_;
};

TEST_F(StatusHttpTest, ServesTheRoutesOneRequestPerConnection) {
  StartServer();
  const Reply health = Exchange(port(), Get("/healthz"));
  EXPECT_EQ(health.status, 200);
  EXPECT_THAT(health.text, HasSubstr("Connection: close"));
  EXPECT_THAT(health.text, HasSubstr("\r\n\r\nok\n"));
  EXPECT_THAT(Exchange(port(), Get("/api/status")).text, HasSubstr("\"job\":\"tiny\""));
  EXPECT_EQ(Exchange(port(), Get("/")).status, 200);
  const Reply metrics = Exchange(port(), Get("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.text, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.text, HasSubstr("\r\n\r\n# HELP tributary_model_version "));
  EXPECT_EQ(Exchange(port(), Get("/nowhere")).status, 404);
  EXPECT_EQ(server_->url(), absl::StrCat("http://127.0.0.1:", port(), "/"));
}

// A coordinator on its own says "ha": null and has no term; the leader of
// several says so, with its term, in the status and in /metrics.
TEST_F(StatusHttpTest, TheLeaderOfSeveralShowsItsTerm) {
  StartServer();
  EXPECT_THAT(Exchange(port(), Get("/api/status")).text, HasSubstr("\"ha\":null"));
  EXPECT_THAT(Exchange(port(), Get("/metrics")).text, Not(HasSubstr("tributary_leader_term")));
  server_.reset();
  StartServer("", TestLimits(), StatusHttpOptions::Leadership{1204, "coord-b:7070"});
  EXPECT_THAT(Exchange(port(), Get("/api/status")).text,
              HasSubstr("\"ha\":{\"address\":\"coord-b:7070\",\"role\":\"leader\",\"term\":1204}"));
  EXPECT_THAT(Exchange(port(), Get("/metrics")).text, HasSubstr("\ntributary_leader_term 1204\n"));
}

// The dashboard shows the run's utilization in its summary and each
// worker's in the worker table.
TEST_F(StatusHttpTest, TheDashboardShowsUtilization) {
  StartServer();
  const Reply page = Exchange(port(), Get("/"));
  EXPECT_THAT(page.text, HasSubstr("pct(s.utilization)"));
  EXPECT_THAT(page.text, HasSubstr("<th>utilization</th>"));
  EXPECT_THAT(page.text, HasSubstr("pct(w.utilization)"));
  EXPECT_THAT(Exchange(port(), Get("/api/status")).text, HasSubstr("\"utilization\":null"));
}

TEST_F(StatusHttpTest, HeadAnswersWithoutABody) {
  StartServer();
  const Reply reply = Exchange(port(), "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(absl::EndsWith(reply.text, "\r\n\r\n")) << reply.text;
}

TEST_F(StatusHttpTest, OtherMethodsGet405) {
  StartServer();
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    const Reply reply = Exchange(port(), absl::StrCat(method, " /api/status HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_THAT(reply.text, HasSubstr("Allow: GET, HEAD")) << method;
  }
}

// Each request announces a gigabyte and sends none of it: only a server that
// does not wait for the body answers within kPrompt.
TEST_F(StatusHttpTest, RefusesABodyWithoutReadingIt) {
  StartServer();
  EXPECT_EQ(Exchange(port(), "POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n").status,
            405);
  EXPECT_EQ(Exchange(port(), Get("/api/status", "Content-Length: 1000000000\r\n")).status, 413);
  EXPECT_EQ(Exchange(port(), Get("/api/status", "Transfer-Encoding: chunked\r\n")).status, 413);
  EXPECT_EQ(Exchange(port(), Get("/healthz", "Content-Length: 0\r\n")).status, 200);
}

TEST_F(StatusHttpTest, RefusesOversizedHeadersAndRequestLines) {
  StartServer();
  EXPECT_EQ(Exchange(port(), Get("/healthz", absl::StrCat("X-Big: ", std::string(kMaxHeadBytes, 'a'), "\r\n"))).status,
            431);
  EXPECT_EQ(Exchange(port(), Get(absl::StrCat("/healthz?", std::string(kMaxHeadBytes, 'a')))).status, 414);
}

// A head that fills the buffer exactly is answered at once: the server reads
// no more than kMaxHeadBytes of one.
TEST_F(StatusHttpTest, AHeadThatFillsTheBufferGets431) {
  StartServer();
  const std::string start = "GET /healthz HTTP/1.1\r\nX-Endless: ";
  const int fd = Connect(port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, start + std::string(kMaxHeadBytes - start.size(), 'a')));
  EXPECT_THAT(ReadUntilClosed(fd, kPrompt), StartsWith("HTTP/1.1 431 "));
  close(fd);
}

// Clients that each send a megabyte of one header line are cut off; the
// server buffers at most kMaxHeadBytes of each.
TEST_F(StatusHttpTest, EndlessHeaderLinesDoNotGrowMemory) {
  constexpr int kClients = 16;
  StartServer();
  const std::string endless = "GET /healthz HTTP/1.1\r\nX-Endless: " + std::string(1 << 20, 'a');
  const int64_t resident_before = ResidentBytes();
  for (int i = 0; i < kClients; ++i) {
    const int fd = Connect(port(), AttackerAddress(i));
    ASSERT_GE(fd, 0);
    // Fails part way once the server has closed; SO_SNDTIMEO bounds it if not.
    SendAll(fd, endless);
    EXPECT_TRUE(ClosedWithin(fd, kPrompt)) << "client " << i;
    close(fd);
  }
  EXPECT_LT(ResidentBytes() - resident_before, 4 << 20);
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
}

TEST_F(StatusHttpTest, ClosesIdleAndHalfSentConnections) {
  StartServer();
  const int idle = Connect(port());
  const int half = Connect(port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(half, 0);
  ASSERT_TRUE(SendAll(half, "GET /api/status HTTP/1.1\r\nHost: loc"));
  // The whole head must arrive within kHeadTimeout of the accept.
  EXPECT_TRUE(ClosedWithin(idle, kHeadTimeout + kPrompt));
  EXPECT_TRUE(ClosedWithin(half, kHeadTimeout + kPrompt));
  close(idle);
  close(half);
}

// 64 clients that each send half a request and stall hold 64 sockets; the
// page still answers.
TEST_F(StatusHttpTest, StalledClientsDoNotBlockThePage) {
  StartServer();
  std::vector<int> stalled;
  for (int i = 0; i < 64; ++i) {
    const int fd = Connect(port(), AttackerAddress(i));
    ASSERT_GE(fd, 0);
    stalled.push_back(fd);
    ASSERT_TRUE(SendAll(fd, "GET /api/sta"));
  }
  const absl::Time start = absl::Now();
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/api/status")).status, 200);
  EXPECT_LT(absl::Now() - start, kHeadTimeout) << "answered only once the stalled clients timed out";
  for (const int fd : stalled) close(fd);
}

// 200 clients that each trickle a byte every half second hold their
// connections until the head deadline; /healthz answers promptly throughout,
// and then every trickler is cut off.
TEST_F(StatusHttpTest, TricklingClientsDoNotBlockThePageAndAreCutOff) {
  constexpr int kClients = 200;
  constexpr int kProbes = 8;
  HttpServerLimits limits = TestLimits();
  limits.head_timeout = absl::Seconds(5);
  StartServer("", limits);
  std::vector<int> trickling;
  for (int i = 0; i < kClients; ++i) {
    const int fd = Connect(port(), AttackerAddress(i));
    ASSERT_GE(fd, 0);
    trickling.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread trickler([&] {
    const std::string header = "GET /api/status HTTP/1.1\r\nX-Slow: " + std::string(40, 'a');
    for (size_t i = 0; i < header.size() && !stop; ++i) {
      for (const int fd : trickling) send(fd, &header[i], 1, MSG_NOSIGNAL);
      absl::SleepFor(absl::Milliseconds(500));
    }
  });
  for (int probe = 0; probe < kProbes; ++probe) {
    const absl::Time start = absl::Now();
    EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200) << "probe " << probe;
    EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "probe " << probe;
    absl::SleepFor(absl::Milliseconds(500));
  }
  for (int i = 0; i < kClients; ++i) EXPECT_TRUE(ClosedWithin(trickling[i], limits.head_timeout + kPrompt)) << i;
  stop = true;
  trickler.join();
  for (const int fd : trickling) close(fd);
}

// Over the per-client cap, a connection is answered 503 and closed; other
// addresses and the connections already held are served as usual.
TEST_F(StatusHttpTest, ConnectionsOverThePerClientCapAreRefused) {
  HttpServerLimits limits = TestLimits();
  limits.head_timeout = absl::Seconds(30);
  StartServer("", limits);
  std::vector<int> held;
  for (int i = 0; i < limits.max_connections_per_client; ++i) {
    const int fd = Connect(port(), "127.0.0.3");
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\n"));
    held.push_back(fd);
  }
  for (int extra = 0; extra < 4; ++extra) {
    EXPECT_THAT(Exchange(port(), Get("/healthz"), "127.0.0.3").text, StartsWith("HTTP/1.1 503 ")) << extra;
  }
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  for (const int fd : held) {
    ASSERT_TRUE(SendAll(fd, "\r\n"));
    EXPECT_THAT(ReadUntilClosed(fd, kPrompt), StartsWith("HTTP/1.1 200 "));
    close(fd);
  }
  EXPECT_EQ(Exchange(port(), Get("/healthz"), "127.0.0.3").status, 200);
}

TEST_F(StatusHttpTest, ConnectionsOverTheTotalCapAreRefusedUntilOneEnds) {
  HttpServerLimits limits = TestLimits();
  limits.head_timeout = absl::Seconds(30);
  limits.max_connections = 4;
  StartServer("", limits);
  std::vector<int> held;
  for (int i = 0; i < limits.max_connections; ++i) {
    const int fd = Connect(port(), AttackerAddress(i * kClientsPerAddress));
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "GET /healthz HTTP/1.1\r\n"));
    held.push_back(fd);
  }
  EXPECT_THAT(Exchange(port(), Get("/healthz")).text, StartsWith("HTTP/1.1 503 "));
  ASSERT_TRUE(SendAll(held[0], "\r\n"));
  EXPECT_THAT(ReadUntilClosed(held[0], kPrompt), StartsWith("HTTP/1.1 200 "));
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  for (const int fd : held) close(fd);
}

TEST_F(StatusHttpTest, PercentEscapedPathsAreNotDecoded) {
  StartServer();
  EXPECT_EQ(Exchange(port(), Get("/heal%74hz")).status, 404);
  EXPECT_EQ(Exchange(port(), "GET http://localhost/healthz HTTP/1.1\r\n\r\n").status, 200);
}

TEST_F(StatusHttpTest, TokenGuardsEverythingButTheStaticPageAndHealthz) {
  StartServer("s3cret");
  const Reply missing = Exchange(port(), Get("/api/status"));
  EXPECT_EQ(missing.status, 401);
  EXPECT_THAT(missing.text, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_THAT(missing.text, Not(HasSubstr("tiny")));
  EXPECT_EQ(Exchange(port(), Get("/api/status", "Authorization: Bearer s3creT\r\n")).status, 401);
  EXPECT_EQ(Exchange(port(), Get("/api/status", "Authorization: Bearer s3cret2\r\n")).status, 401);
  EXPECT_EQ(Exchange(port(), Get("/api/status", "Authorization: s3cret\r\n")).status, 401);
  EXPECT_EQ(Exchange(port(), Get("/metrics")).status, 401);
  EXPECT_EQ(Exchange(port(), Get("/api/history", "Authorization: Bearer s3cret\r\n")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/api/ledger", "Authorization: Bearer s3cret\r\n")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/metrics", "Authorization: Bearer s3cret\r\n")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/api/blobs")).status, 401);
  // A digest is its own capability: caches fetch blobs without the token.
  EXPECT_EQ(Exchange(port(), Get("/blobs/" + Sha256Hex(dataset_->shards[0].sha256))).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/blobs/" + Sha256Hex(Sha256("none")))).status, 404);
}

TEST_F(StatusHttpTest, ServesAShardByDigestAndCountsIt) {
  StartServer();
  const Shard& shard = dataset_->shards[2];
  const std::string hex = Sha256Hex(shard.sha256);
  const Reply blob = Exchange(port(), Get("/blobs/" + hex));
  EXPECT_EQ(blob.status, 200);
  EXPECT_THAT(blob.text, HasSubstr("Cache-Control: public, max-age=31536000, immutable\r\n"));
  EXPECT_THAT(blob.text, HasSubstr(absl::StrCat("ETag: \"", hex, "\"\r\n")));
  EXPECT_THAT(blob.text, HasSubstr(absl::StrCat("\r\n\r\n", dataset_->ShardBytes(shard))));
  EXPECT_EQ(Exchange(port(), Get("/blobs/" + hex.substr(1))).status, 400);
  EXPECT_EQ(Exchange(port(), Get("/blobs/" + Sha256Hex(Sha256("none")))).status, 404);
  const Reply status = Exchange(port(), Get("/api/status"));
  EXPECT_THAT(status.text, HasSubstr("\"blobs\":{\"bad_request\":1,\"bytes_sent\":28,\"not_found\":1,"
                                     "\"served\":{\"delta\":0,\"model\":0,\"shard\":1}}"));
  EXPECT_THAT(Exchange(port(), Get("/api/blobs")).text,
              HasSubstr(absl::StrCat("{\"digests\":[{\"kind\":\"shard\",\"serves\":1,\"sha256\":\"", hex, "\"}]}")));
  EXPECT_THAT(Exchange(port(), Get("/metrics")).text, HasSubstr("tributary_blob_bytes_sent_total 28\n"));
}

TEST(ReadBearerTokenTest, StripsTrailingWhitespaceAndRefusesEmptyOrMissingFiles) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/http_token");
  std::ofstream(path) << "tok en\n\t \n";
  EXPECT_EQ(ReadBearerToken(path).value_or(""), "tok en");
  std::ofstream(path) << " \n";
  EXPECT_THAT(ReadBearerToken(path).status().message(), HasSubstr(path));
  EXPECT_FALSE(ReadBearerToken(path + ".missing").ok());
}

}  // namespace
}  // namespace tributary::coordinator
