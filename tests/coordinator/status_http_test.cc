#include "coordinator/status_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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

constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;
constexpr absl::Duration kIdleTimeout = absl::Seconds(2);
// "Answers promptly": generous, for a loaded machine; no test measures speed.
constexpr absl::Duration kPrompt = absl::Seconds(3);
constexpr size_t kMaxResponseBytes = 1 << 20;

// A TCP connection to 127.0.0.1:`port` from `source` (any 127/8 address is
// this machine, so tests can play several clients); -1 on failure.
int Connect(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
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
Reply Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
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

class StatusHttpTest : public ::testing::Test {
 protected:
  StatusHttpTest()
      : dataset_(TinyDataset(12, 4)), run_(TinyJob(), *dataset_, std::vector<float>(kNumParams, 0.0f), clock_) {}

  void StartServer(const std::string& token = "") {
    StatusHttpOptions options;
    options.address = "127.0.0.1:0";
    options.bearer_token = token;
    options.idle_timeout = kIdleTimeout;
    absl::StatusOr<std::unique_ptr<StatusHttpServer>> server = StatusHttpServer::Start(options, run_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int port() const { return server_->port(); }

  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  TrainingRun run_;
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
  EXPECT_EQ(Exchange(port(), Get("/nowhere")).status, 404);
  EXPECT_EQ(server_->url(), absl::StrCat("http://127.0.0.1:", port(), "/"));
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
  EXPECT_EQ(Exchange(port(), Get("/healthz", absl::StrCat("X-Big: ", std::string(16 * 1024, 'a'), "\r\n"))).status,
            400);
  EXPECT_EQ(Exchange(port(), Get(absl::StrCat("/healthz?", std::string(16 * 1024, 'a')))).status, 414);
}

TEST_F(StatusHttpTest, ClosesIdleAndHalfSentConnections) {
  StartServer();
  const int idle = Connect(port());
  const int half = Connect(port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(half, 0);
  ASSERT_TRUE(SendAll(half, "GET /api/status HTTP/1.1\r\nHost: loc"));
  // Both the wait for a first byte and each read give up after kIdleTimeout.
  EXPECT_TRUE(ClosedWithin(idle, 2 * kIdleTimeout + kPrompt));
  EXPECT_TRUE(ClosedWithin(half, 2 * kIdleTimeout + kPrompt));
  close(idle);
  close(half);
}

// 64 clients that each send half a request and stall hold 64 of the pool's
// threads; the rest still serve the page.
TEST_F(StatusHttpTest, StalledClientsDoNotBlockThePage) {
  StartServer();
  std::vector<int> stalled;
  for (int i = 0; i < 64; ++i) {
    const int fd = Connect(port());
    ASSERT_GE(fd, 0);
    stalled.push_back(fd);
    ASSERT_TRUE(SendAll(fd, "GET /api/sta"));
  }
  const absl::Time start = absl::Now();
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/api/status")).status, 200);
  EXPECT_LT(absl::Now() - start, kIdleTimeout) << "answered only once the stalled clients timed out";
  for (const int fd : stalled) close(fd);
}

// 64 clients that each trickle a byte every half second are never idle for
// long enough to be dropped; the page still answers throughout.
TEST_F(StatusHttpTest, TricklingClientsDoNotBlockThePage) {
  StartServer();
  std::vector<int> trickling;
  for (int i = 0; i < 64; ++i) {
    const int fd = Connect(port());
    ASSERT_GE(fd, 0);
    trickling.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread trickler([&] {
    const std::string header = "GET /api/status HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; i < header.size() && !stop; ++i) {
      for (const int fd : trickling) send(fd, &header[i], 1, MSG_NOSIGNAL);
      absl::SleepFor(absl::Milliseconds(500));
    }
  });
  for (int probe = 0; probe < 3; ++probe) {
    absl::SleepFor(kIdleTimeout);
    EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200) << "probe " << probe;
  }
  stop = true;
  trickler.join();
  for (const int fd : trickling) close(fd);
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
  EXPECT_EQ(Exchange(port(), Get("/healthz")).status, 200);
  EXPECT_EQ(Exchange(port(), Get("/")).status, 200);
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
