#include "tools/faultproxy/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tributary::faultproxy {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
// Bytes held per direction before the proxy stops reading (backpressure).
constexpr size_t kMaxQueuedBytes = 4 << 20;
// The longest a connection thread sleeps in poll(2) before it looks at
// stop requests and resets again.
constexpr absl::Duration kPollSlice = absl::Milliseconds(50);

bool IsLoopback(uint32_t address_host_order) { return (address_host_order >> 24) == 127; }

// A mask of the first `prefix_length` bits, in host byte order.
uint32_t PrefixMask(int prefix_length) {
  return prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
}

std::string FormatIpv4(uint32_t address_host_order) {
  const uint32_t a = address_host_order;
  return absl::StrCat(a >> 24, ".", (a >> 16) & 255, ".", (a >> 8) & 255, ".", a & 255);
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes `fd` so the peer sees a reset rather than an orderly end.
void CloseWithReset(int fd) {
  struct linger hard = {1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::close(fd);
}

struct Chunk {
  std::string data;
  size_t sent = 0;
  absl::Time due;
};

// One direction of a connection: bytes read from `from`, held until due,
// written to `to`.
struct Direction {
  int from = -1;
  int to = -1;
  std::deque<Chunk> queue;
  size_t queued_bytes = 0;
  bool eof = false;       // `from` ended (or failed).
  bool shut = false;      // ... and `to` was told, once the queue drained.
  absl::Time stall_until = absl::InfinitePast();
  absl::Time next_free = absl::InfinitePast();  // Bandwidth pacing.
  absl::Time last_due = absl::InfinitePast();   // Of the chunk read last.

  bool Sendable(absl::Time now) const { return !queue.empty() && queue.front().due <= now && now >= stall_until; }
  // When this direction next has something to do on its own.
  absl::Time NextWake() const {
    if (queue.empty()) return absl::InfiniteFuture();
    return std::max(queue.front().due, stall_until);
  }
};

}  // namespace

// Pumps one accepted connection until it ends, is reset, or the proxy stops.
class FaultProxy::Connection {
 public:
  Connection(FaultProxy& proxy, int client, int target) : proxy_(proxy), client_(client), target_(target) {
    up_.from = down_.to = client;
    up_.to = down_.from = target;
  }

  void Run() {
    SetNonBlocking(client_);
    SetNonBlocking(target_);
    const uint64_t generation = proxy_.reset_generation_.load();
    enum class End { kClosed, kReset, kFailed, kStopped } end = End::kStopped;
    while (!proxy_.stop_.load()) {
      if (proxy_.reset_generation_.load() != generation) {
        end = End::kReset;
        break;
      }
      const FaultOptions options = proxy_.options();
      const absl::Time now = absl::Now();
      pollfd fds[2] = {{client_, 0, 0}, {target_, 0, 0}};
      for (Direction* d : {&up_, &down_}) {
        pollfd& in = d->from == client_ ? fds[0] : fds[1];
        pollfd& out = d->to == client_ ? fds[0] : fds[1];
        if (!d->eof && d->queued_bytes < kMaxQueuedBytes) in.events |= POLLIN;
        if (d->Sendable(now)) out.events |= POLLOUT;
      }
      const absl::Time wake = std::min({up_.NextWake(), down_.NextWake(), now + kPollSlice});
      const int timeout_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(wake - now)));
      if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) break;
      bool reset = false;
      for (Direction* d : {&up_, &down_}) {
        const pollfd& in = d->from == client_ ? fds[0] : fds[1];
        if ((in.revents & (POLLIN | POLLHUP | POLLERR)) && !d->eof) reset |= Read(*d, options);
      }
      if (reset) {
        end = End::kReset;
        break;
      }
      bool failed = false;
      for (Direction* d : {&up_, &down_}) failed |= !Write(*d);
      if (failed) {
        end = End::kFailed;  // An end went away: pass that on.
        break;
      }
      if (up_.shut && down_.shut) {
        end = End::kClosed;
        break;
      }
    }
    {
      // Counted before either end can see it happen.
      absl::MutexLock lock(&proxy_.mu_);
      --proxy_.stats_.open;
      if (end == End::kReset) ++proxy_.stats_.resets;
    }
    if (end == End::kClosed) {
      ::close(client_);
      ::close(target_);
    } else {
      // A reset, a failed end, or the proxy going away: neither end gets a clean goodbye.
      CloseWithReset(client_);
      CloseWithReset(target_);
    }
  }

 private:
  // Reads what is there into the queue and draws the faults. Returns
  // whether the connection is to be reset.
  bool Read(Direction& d, const FaultOptions& options) {
    char buffer[kReadBytes];
    const ssize_t n = ::recv(d.from, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
    if (n <= 0) {
      d.eof = true;
      return false;
    }
    const absl::Time now = absl::Now();
    double jitter_draw = 0;
    bool reset = false;
    {
      absl::MutexLock lock(&proxy_.mu_);
      proxy_.stats_.bytes += n;
      if (options.jitter > absl::ZeroDuration()) jitter_draw = proxy_.UniformLocked();
      if (options.stall_probability > 0 && proxy_.UniformLocked() < options.stall_probability) {
        ++proxy_.stats_.stalls;
        d.stall_until = now + std::min(options.stall_max, kMaxStall) * proxy_.UniformLocked();
      }
      reset = options.reset_probability > 0 && proxy_.UniformLocked() < options.reset_probability;
    }
    Chunk chunk;
    chunk.data.assign(buffer, n);
    chunk.due = ChunkDue(now, d.last_due, d.next_free, options, jitter_draw);
    d.last_due = chunk.due;
    if (options.bytes_per_second > 0) {
      d.next_free = chunk.due + absl::Seconds(static_cast<double>(n) / options.bytes_per_second);
    }
    d.queued_bytes += n;
    d.queue.push_back(std::move(chunk));
    return reset;
  }

  // Writes what is due. Returns false when the receiving end is gone.
  bool Write(Direction& d) {
    const absl::Time now = absl::Now();
    while (d.Sendable(now)) {
      Chunk& head = d.queue.front();
      const ssize_t n = ::send(d.to, head.data.data() + head.sent, head.data.size() - head.sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      if (n < 0) return false;
      head.sent += n;
      if (head.sent < head.data.size()) break;
      d.queued_bytes -= head.data.size();
      d.queue.pop_front();
    }
    if (d.eof && d.queue.empty() && !d.shut) {
      ::shutdown(d.to, SHUT_WR);
      d.shut = true;
    }
    return true;
  }

  FaultProxy& proxy_;
  const int client_;
  const int target_;
  Direction up_;    // Client to target.
  Direction down_;  // Target to client.
};

absl::Time ChunkDue(absl::Time now, absl::Time previous_due, absl::Time next_free, const FaultOptions& options,
                    double jitter_draw) {
  const absl::Duration delay =
      std::min(options.latency, kMaxLatency) + std::min(options.jitter, kMaxJitter) * jitter_draw;
  return std::max({now + delay, next_free, previous_due});
}

absl::StatusOr<Ipv4Network> Ipv4Network::Parse(absl::string_view cidr) {
  const size_t slash = cidr.find('/');
  in_addr address{};
  Ipv4Network network;
  if (slash == absl::string_view::npos ||
      ::inet_pton(AF_INET, std::string(cidr.substr(0, slash)).c_str(), &address) != 1 ||
      !absl::SimpleAtoi(cidr.substr(slash + 1), &network.prefix_length) || network.prefix_length < 0 ||
      network.prefix_length > 32) {
    return absl::InvalidArgumentError(absl::StrCat("\"", cidr, "\" is not an IPv4 network A.B.C.D/N, N in [0, 32]"));
  }
  network.address = ntohl(address.s_addr);
  const uint32_t mask = PrefixMask(network.prefix_length);
  if ((network.address & ~mask) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", cidr, "\" has host bits set; the network is ",
                                                   FormatIpv4(network.address & mask), "/", network.prefix_length));
  }
  return network;
}

bool Ipv4Network::Contains(uint32_t address_host_order) const {
  return (address_host_order & PrefixMask(prefix_length)) == address;
}

bool Ipv4Network::IsPrivate() const {
  for (const Ipv4Network& range : {Ipv4Network{0x0a000000, 8}, Ipv4Network{0xac100000, 12},
                                   Ipv4Network{0xc0a80000, 16}}) {
    if (prefix_length >= range.prefix_length && range.Contains(address)) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(int listen_port, const std::string& target_host,
                                                               int target_port, const FaultOptions& options,
                                                               uint64_t seed,
                                                               const std::vector<Ipv4Network>& allowed_networks) {
  for (const Ipv4Network& network : allowed_networks) {
    if (!network.IsPrivate()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "allowed network ", FormatIpv4(network.address), "/", network.prefix_length,
          " is not private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): the proxy forwards only to networks "
          "a test or script made itself"));
    }
  }
  in_addr target{};
  const std::string host = target_host == "localhost" ? "127.0.0.1" : target_host;
  if (::inet_pton(AF_INET, host.c_str(), &target) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", target_host, "\" is not an IPv4 address"));
  }
  const uint32_t target_host_order = ntohl(target.s_addr);
  const bool allowed = IsLoopback(target_host_order) ||
                       std::any_of(allowed_networks.begin(), allowed_networks.end(),
                                   [&](const Ipv4Network& n) { return n.Contains(target_host_order); });
  if (!allowed) {
    return absl::InvalidArgumentError(absl::StrCat("target \"", target_host,
                                                   "\" is neither a loopback address (127.0.0.0/8) nor in an "
                                                   "allowed network"));
  }
  if (target_port <= 0 || target_port > 65535 || listen_port < 0 || listen_port > 65535) {
    return absl::InvalidArgumentError("port out of range");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(listen_port);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on 127.0.0.1:", listen_port, ": ", error));
  }
  return std::unique_ptr<FaultProxy>(
      new FaultProxy(fd, ntohs(address.sin_port), target.s_addr, target_port, options, seed));
}

FaultProxy::FaultProxy(int listen_fd, int port, uint32_t target_address, int target_port,
                       const FaultOptions& options, uint64_t seed)
    : listen_fd_(listen_fd),
      port_(port),
      target_address_(target_address),
      target_port_(target_port),
      options_(options),
      rng_(seed) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  accept_thread_.join();
  ::close(listen_fd_);
  std::list<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
}

void FaultProxy::SetOptions(const FaultOptions& options) {
  absl::MutexLock lock(&mu_);
  options_ = options;
}

FaultOptions FaultProxy::options() {
  absl::MutexLock lock(&mu_);
  return options_;
}

void FaultProxy::ResetAll() { ++reset_generation_; }

ProxyStats FaultProxy::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

double FaultProxy::UniformLocked() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

int FaultProxy::ConnectToTarget() const {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = target_address_;
  address.sin_port = htons(target_port_);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void FaultProxy::AcceptLoop() {
  while (!stop_.load()) {
    pollfd listening = {listen_fd_, POLLIN, 0};
    if (::poll(&listening, 1, absl::ToInt64Milliseconds(kPollSlice)) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const int target = ConnectToTarget();
    absl::MutexLock lock(&mu_);
    ++stats_.connections;
    if (target < 0) {
      // The target is down: the client sees its connection refused, as it would directly.
      CloseWithReset(client);
      continue;
    }
    ++stats_.open;
    threads_.emplace_back([this, client, target] { Connection(*this, client, target).Run(); });
  }
}

}  // namespace tributary::faultproxy
