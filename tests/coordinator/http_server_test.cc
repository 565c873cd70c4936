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
