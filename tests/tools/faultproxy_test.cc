#include "tools/faultproxy/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
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

TEST(FaultProxyTest, OnlyLoopbackTargetsByDefault) {
  EXPECT_FALSE(FaultProxy::Start(0, "10.0.0.1", 80, FaultOptions(), 1).ok());
  EXPECT_FALSE(FaultProxy::Start(0, "example.com", 80, FaultOptions(), 1).ok());
  EXPECT_TRUE(FaultProxy::Start(0, "localhost", 80, FaultOptions(), 1).ok());
  EXPECT_TRUE(FaultProxy::Start(0, "127.3.2.1", 80, FaultOptions(), 1).ok());
}

Ipv4Network Network(const std::string& cidr) {
  absl::StatusOr<Ipv4Network> network = Ipv4Network::Parse(cidr);
  EXPECT_TRUE(network.ok()) << network.status();
  return network.value_or(Ipv4Network());
}

uint32_t Address(const std::string& dotted) {
  in_addr address{};
  EXPECT_EQ(::inet_pton(AF_INET, dotted.c_str(), &address), 1) << dotted;
  return ntohl(address.s_addr);
}

TEST(FaultProxyTest, ParsesNetworksInCidrNotation) {
  const Ipv4Network veths = Network("10.77.0.0/24");
  EXPECT_EQ(veths.address, Address("10.77.0.0"));
  EXPECT_EQ(veths.prefix_length, 24);
  EXPECT_TRUE(veths.Contains(Address("10.77.0.2")));
  EXPECT_TRUE(veths.Contains(Address("10.77.0.255")));
  EXPECT_FALSE(veths.Contains(Address("10.77.1.2")));
  EXPECT_FALSE(veths.Contains(Address("127.0.0.1")));
  EXPECT_TRUE(Network("10.77.0.2/32").Contains(Address("10.77.0.2")));
  EXPECT_FALSE(Network("10.77.0.2/32").Contains(Address("10.77.0.3")));
  EXPECT_TRUE(Network("0.0.0.0/0").Contains(Address("8.8.8.8")));
  for (const char* bad : {"10.77.0.0", "10.77.0.0/", "10.77.0.0/33", "10.77.0.0/-1", "10.77.0/24",
                          "example.com/24", "10.77.0.0/24x", ""}) {
    EXPECT_FALSE(Ipv4Network::Parse(bad).ok()) << bad;
  }
  const absl::StatusOr<Ipv4Network> host_bits = Ipv4Network::Parse("10.77.0.5/24");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.status().message().find("10.77.0.0/24"), std::string::npos) << host_bits.status();
}

TEST(FaultProxyTest, PrivateNetworksAreThoseOfRfc1918) {
  for (const char* cidr : {"10.0.0.0/8", "10.77.0.0/24", "172.16.0.0/12", "172.31.255.0/24", "192.168.0.0/16",
                           "192.168.7.0/24"}) {
    EXPECT_TRUE(Network(cidr).IsPrivate()) << cidr;
  }
  // 10.0.0.0/7 holds 11.0.0.0/8 too; 172.32/16 is past 172.16/12.
  for (const char* cidr : {"10.0.0.0/7", "172.32.0.0/16", "8.8.8.0/24", "192.169.0.0/16", "0.0.0.0/0",
                           "127.0.0.0/8"}) {
    EXPECT_FALSE(Network(cidr).IsPrivate()) << cidr;
  }
}

TEST(FaultProxyTest, NonLoopbackTargetsOnlyInAllowedPrivateNetworks) {
  const std::vector<Ipv4Network> veths = {Network("10.77.0.0/24")};
  EXPECT_TRUE(FaultProxy::Start(0, "10.77.0.2", 7070, FaultOptions(), 1, veths).ok());
  EXPECT_TRUE(FaultProxy::Start(0, "127.0.0.1", 7070, FaultOptions(), 1, veths).ok()) << "loopback still";
  EXPECT_FALSE(FaultProxy::Start(0, "10.77.1.2", 7070, FaultOptions(), 1, veths).ok());
  EXPECT_FALSE(FaultProxy::Start(0, "10.77.0.2", 7070, FaultOptions(), 1).ok()) << "not without the network";
  // A public network is refused even as a permission, and with it every target.
  const absl::StatusOr<std::unique_ptr<FaultProxy>> outside =
      FaultProxy::Start(0, "8.8.8.8", 53, FaultOptions(), 1, {Network("8.8.8.0/24")});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("not private"), std::string::npos) << outside.status();
  EXPECT_FALSE(FaultProxy::Start(0, "127.0.0.1", 7070, FaultOptions(), 1, {Network("0.0.0.0/0")}).ok());
}

TEST(FaultProxyTest, ChunkDueAddsLatencyAndJitterButNeverGoesBack) {
  FaultOptions options;
  options.latency = absl::Milliseconds(50);
  options.jitter = absl::Milliseconds(100);
  const absl::Time t0 = absl::UnixEpoch();
  const absl::Time never = absl::InfinitePast();
  EXPECT_EQ(ChunkDue(t0, never, never, options, 0.0), t0 + absl::Milliseconds(50));
  EXPECT_EQ(ChunkDue(t0, never, never, options, 0.5), t0 + absl::Milliseconds(100));
  // A chunk read 10 ms after one that drew 90 ms of jitter waits for it,
  // though its own draw (0) would let it go at 60 ms.
  const absl::Time first = ChunkDue(t0, never, never, options, 0.9);
  EXPECT_EQ(first, t0 + absl::Milliseconds(140));
  EXPECT_EQ(ChunkDue(t0 + absl::Milliseconds(10), first, never, options, 0.0), first);
  // The bandwidth cap holds chunks too; jitter and latency are capped.
  EXPECT_EQ(ChunkDue(t0, never, t0 + absl::Seconds(1), options, 0.5), t0 + absl::Seconds(1));
  options.latency = absl::Hours(1);
  options.jitter = absl::Hours(1);
  EXPECT_EQ(ChunkDue(t0, never, never, options, 0.5), t0 + kMaxLatency + kMaxJitter / 2);
}

TEST(FaultProxyTest, ChunkDueIsMonotoneAndBoundedOverRandomReads) {
  const uint64_t seed = std::random_device()();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  FaultOptions options;
  options.latency = absl::Milliseconds(30);
  options.jitter = absl::Milliseconds(40);
  absl::Time now = absl::UnixEpoch();
  absl::Time previous = absl::InfinitePast();
  for (int i = 0; i < 10000; ++i) {
    now += absl::Microseconds(uniform(rng) * 20000);
    const absl::Time due = ChunkDue(now, previous, absl::InfinitePast(), options, uniform(rng));
    ASSERT_GE(due, previous) << "read " << i << ", seed " << seed;
    ASSERT_GE(due, now + options.latency) << "read " << i << ", seed " << seed;
    // Waiting behind the chunk ahead is the only way past latency + jitter.
    ASSERT_LE(due, std::max(previous, now + options.latency + options.jitter)) << "read " << i << ", seed " << seed;
    previous = due;
  }
}

// Small numbered messages sent 5 ms apart through a proxy whose jitter
// (60 ms each way) is far longer: each round trip takes at least twice the
// latency, the delays vary, and the messages come back whole and in order.
TEST(FaultProxyTest, JitterVariesDelaysButNeverReorders) {
  EchoServer echo;
  FaultOptions options;
  options.latency = absl::Milliseconds(20);
  options.jitter = absl::Milliseconds(60);
  auto proxy = FaultProxy::Start(0, "127.0.0.1", echo.port(), options, 3);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const int fd = Connect((*proxy)->port());
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  constexpr int kMessages = 60;
  constexpr size_t kMessageBytes = 8;
  std::vector<absl::Time> sent(kMessages);
  std::string expected;
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      char message[kMessageBytes + 1];
      std::snprintf(message, sizeof(message), "m%06d;", i);
      sent[i] = absl::Now();
      ASSERT_EQ(::send(fd, message, kMessageBytes, MSG_NOSIGNAL), static_cast<ssize_t>(kMessageBytes));
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  std::string back;
  std::vector<absl::Time> arrived;
  char buffer[4096];
  while (back.size() < kMessages * kMessageBytes) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    back.append(buffer, n);
    while (arrived.size() < back.size() / kMessageBytes) arrived.push_back(absl::Now());
  }
  sender.join();
  ::close(fd);
  for (int i = 0; i < kMessages; ++i) {
    char message[kMessageBytes + 1];
    std::snprintf(message, sizeof(message), "m%06d;", i);
    expected += message;
  }
  ASSERT_EQ(back, expected) << "whole and in order";
  absl::Duration shortest = absl::InfiniteDuration();
  absl::Duration longest = absl::ZeroDuration();
  for (int i = 0; i < kMessages; ++i) {
    shortest = std::min(shortest, arrived[i] - sent[i]);
    longest = std::max(longest, arrived[i] - sent[i]);
  }
  EXPECT_GE(shortest, absl::Milliseconds(40)) << "20 ms each way";
  // Without jitter every round trip would take the same 40 ms; draws from
  // [0, 60) each way spread them by tens of milliseconds.
  EXPECT_GE(longest - shortest, absl::Milliseconds(30)) << "shortest " << shortest << ", longest " << longest;
}

}  // namespace
}  // namespace tributary::faultproxy
