#include "tools/faultproxy/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tributary::faultproxy {
namespace {

// Echoes every byte back on each connection it accepts, until destroyed.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // The listening socket was shut down.
        echoes_.emplace_back([client] {
          char buffer[8192];
          ssize_t n;
          while ((n = ::recv(client, buffer, sizeof(buffer), 0)) > 0) {
            if (::send(client, buffer, n, MSG_NOSIGNAL) != n) break;
          }
          ::close(client);
        });
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    for (std::thread& t : echoes_) t.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<std::thread> echoes_;
};

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval timeout = {10, 0};  // No test waits on a socket for longer.
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Sends `data` on a thread while reading the same number of bytes back.
// Returns what came back, short if the connection ended; `error` gets the
// read's errno when it failed.
std::string RoundTrip(int fd, const std::string& data, int* error = nullptr) {
  std::thread sender([&] {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += n;
    }
  });
  std::string back;
  char buffer[65536];
  while (back.size() < data.size()) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      if (error != nullptr) *error = n < 0 ? errno : 0;
      break;
    }
    back.append(buffer, n);
  }
  ::shutdown(fd, SHUT_RDWR);
  sender.join();
  return back;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

TEST(FaultProxyTest, ForwardsBytesIntactBothWays) {
  EchoServer echo;
  auto proxy = FaultProxy::Start(0, "127.0.0.1", echo.port(), FaultOptions(), 1);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string data = RandomBytes(3 << 20, 7);
  const int fd = Connect((*proxy)->port());
  EXPECT_EQ(RoundTrip(fd, data), data);
  ::close(fd);
  EXPECT_EQ((*proxy)->stats().connections, 1);
  EXPECT_EQ((*proxy)->stats().bytes, 2 * static_cast<int64_t>(data.size()));
}

// Injected delays are lower bounds on how long a transfer takes: noise on a
// shared machine can only add to them.
TEST(FaultProxyTest, LatencyAndBandwidthSlowTransfersAtLeastAsMuchAsAsked) {
  EchoServer echo;
  FaultOptions options;
  options.latency = absl::Milliseconds(150);
  auto proxy = FaultProxy::Start(0, "127.0.0.1", echo.port(), options, 1);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  absl::Time start = absl::Now();
  int fd = Connect((*proxy)->port());
  EXPECT_EQ(RoundTrip(fd, "ping"), "ping");
  ::close(fd);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300)) << "150 ms each way";

  options.latency = absl::ZeroDuration();
  options.bytes_per_second = 1 << 20;
  (*proxy)->SetOptions(options);
  const std::string data = RandomBytes(512 << 10, 3);
  start = absl::Now();
  fd = Connect((*proxy)->port());
  EXPECT_EQ(RoundTrip(fd, data), data);
  ::close(fd);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(450)) << "512 KiB at 1 MiB/s, on the way there alone";
}

TEST(FaultProxyTest, StallsDelayButNeverLoseBytes) {
  EchoServer echo;
  FaultOptions options;
  options.stall_probability = 0.5;
  options.stall_max = absl::Milliseconds(100);
  auto proxy = FaultProxy::Start(0, "127.0.0.1", echo.port(), options, 5);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string data = RandomBytes(1 << 20, 9);
  const int fd = Connect((*proxy)->port());
  EXPECT_EQ(RoundTrip(fd, data), data);
  ::close(fd);
  EXPECT_GT((*proxy)->stats().stalls, 0);
}

TEST(FaultProxyTest, ResetsCutConnectionsAbruptly) {
  EchoServer echo;
  FaultOptions options;
  options.reset_probability = 1.0;
  auto proxy = FaultProxy::Start(0, "127.0.0.1", echo.port(), options, 1);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int fd = Connect((*proxy)->port());
  int error = -1;
  EXPECT_TRUE(RoundTrip(fd, RandomBytes(4096, 1), &error).empty());
  EXPECT_EQ(error, ECONNRESET);
  ::close(fd);

  // ResetAll cuts connections that are open, wherever they are.
  (*proxy)->SetOptions(FaultOptions());
  fd = Connect((*proxy)->port());
  ASSERT_EQ(::send(fd, "x", 1, MSG_NOSIGNAL), 1);
  char c;
  ASSERT_EQ(::recv(fd, &c, 1, 0), 1);
  (*proxy)->ResetAll();
  EXPECT_EQ(::recv(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  ::close(fd);
  EXPECT_EQ((*proxy)->stats().resets, 2);
}

TEST(FaultProxyTest, OnlyLoopbackTargets) {
  EXPECT_FALSE(FaultProxy::Start(0, "10.0.0.1", 80, FaultOptions(), 1).ok());
  EXPECT_FALSE(FaultProxy::Start(0, "example.com", 80, FaultOptions(), 1).ok());
  EXPECT_TRUE(FaultProxy::Start(0, "localhost", 80, FaultOptions(), 1).ok());
}

}  // namespace
}  // namespace tributary::faultproxy
