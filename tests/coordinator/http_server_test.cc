#include "coordinator/http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

// Generous, for a loaded machine; no test measures speed.
constexpr absl::Duration kPrompt = absl::Seconds(3);

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Bytes received until the server closes `fd`, at most `limit`, waiting at
// most kPrompt for each.
size_t Drain(int fd, size_t limit) {
  size_t received = 0;
  char buffer[1 << 16];
  while (received < limit) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kPrompt))) != 1) break;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received += n;
  }
  return received;
}

// Whether `owner`'s use count reaches `count` within kPrompt.
bool WaitForUseCount(const std::shared_ptr<const std::string>& owner, long count) {
  const absl::Time deadline = absl::Now() + kPrompt;
  while (owner.use_count() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::unique_ptr<HttpServer> StartServer(const HttpServerLimits& limits, const std::string& body) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1", 0, limits, [body](const HttpRequest&) {
        HttpResponse response;
        response.body = body;
        return response;
      });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// The response is far larger than both sockets' buffers (Linux grows them to
// a few MiB at most), so only a client that reads takes it all; this one
// reads nothing until the deadline has passed.
TEST(HttpServerTest, DropsAClientThatDoesNotReadItsResponse) {
  constexpr size_t kBodyBytes = 64 << 20;
  HttpServerLimits limits;
  limits.write_timeout = absl::Seconds(1);
  limits.min_send_bytes_per_s = 1e12;  // The deadline is the write timeout alone.
  const std::unique_ptr<HttpServer> server = StartServer(limits, std::string(kBodyBytes, 'x'));
  ASSERT_NE(server, nullptr);
  const int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  absl::SleepFor(limits.write_timeout + absl::Seconds(1));
  EXPECT_LT(Drain(fd, kBodyBytes), kBodyBytes);
  close(fd);
}

// A body shared rather than copied (a model's bytes) goes out a socket
// buffer at a time: a client that reads none of it holds up no one else,
// and the body's owner is let go once it is sent.
TEST(HttpServerTest, ALargeSharedBodyHoldsUpNoOtherRequest) {
  constexpr size_t kBodyBytes = 32 << 20;
  auto model = std::make_shared<const std::string>(kBodyBytes, 'm');
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1", 0, HttpServerLimits(), [&model](const HttpRequest& request) {
        HttpResponse response;
        if (request.path == "/big") {
          response.shared_body = *model;
          response.body_owner = model;
        } else {
          response.body = "ok";
        }
        return response;
      });
  ASSERT_TRUE(server.ok()) << server.status();
  const int big = Connect((*server)->port());
  ASSERT_GE(big, 0);
  const std::string get_big = "GET /big HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(big, get_big.data(), get_big.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get_big.size()));
  ASSERT_TRUE(WaitForUseCount(model, 2)) << "the server holds the body while sending it";

  const int small = Connect((*server)->port());
  ASSERT_GE(small, 0);
  const std::string get_small = "GET /small HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(small, get_small.data(), get_small.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get_small.size()));
  const size_t small_bytes = Drain(small, 1 << 20);
  EXPECT_GT(small_bytes, 2u);
  EXPECT_LT(small_bytes, 200u);
  close(small);

  EXPECT_GT(Drain(big, 2 * kBodyBytes), kBodyBytes) << "the whole body and its head";
  close(big);
  EXPECT_TRUE(WaitForUseCount(model, 1)) << "let go once sent";
}

TEST(HttpServerTest, StoppingEndsOpenConnections) {
  std::unique_ptr<HttpServer> server = StartServer(HttpServerLimits(), "ok");
  ASSERT_NE(server, nullptr);
  const int fd = Connect(server->port());
  ASSERT_GE(fd, 0);
  server.reset();
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kPrompt))), 1);
  char byte;
  // 0 for a closed connection, -1 (reset) if it was still in the accept queue.
  EXPECT_LE(recv(fd, &byte, 1, 0), 0);
  close(fd);
}

TEST(HttpServerTest, APortInUseIsUnavailable) {
  const std::unique_ptr<HttpServer> first = StartServer(HttpServerLimits(), "ok");
  ASSERT_NE(first, nullptr);
  const absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(
      "127.0.0.1", first->port(), HttpServerLimits(), [](const HttpRequest&) { return HttpResponse(); });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tributary::coordinator
