#include "coordinator/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace tributary::coordinator {
namespace {

constexpr int kListenBacklog = 128;
// Accepts per wake-up, so a connection flood cannot starve the reads.
constexpr int kMaxAcceptsPerWake = 64;
// After accept() fails for want of descriptors, the listening socket stays
// readable: wait this long instead of spinning on it.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);
constexpr char kBusy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

struct Connection {
  int fd = -1;  // -1 once closed
  std::string client;  // ClientKey of the peer
  absl::Time deadline;  // for the head, then for the response
  size_t head_size = 0;
  char head[kMaxHeadBytes];
  std::string out;  // the response (or its head); empty while the head is awaited
  // A shared body sent after `out` (HttpResponse::shared_body), and what
  // keeps it alive until then.
  absl::string_view body;
  std::shared_ptr<const void> body_owner;
  size_t sent = 0;  // of out, then of body
};

// A response's bytes: a serialized head (and small body), then a shared
// body that is never copied.
struct Reply {
  std::string bytes;
  absl::string_view body;
  std::shared_ptr<const void> body_owner;
};

// The unit the per-client cap counts: an IPv4 address (also when mapped into
// IPv6), or an IPv6 /64, the block one host usually holds.
std::string ClientKey(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return std::string(reinterpret_cast<const char*>(&v4.sin_addr), 4);
  }
  const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
  const char* bytes = reinterpret_cast<const char*>(v6.s6_addr);
  return IN6_IS_ADDR_V4MAPPED(&v6) ? std::string(bytes + 12, 4) : std::string(bytes, 8);
}

HttpResponse Plain(int status, absl::string_view text) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = absl::StrCat(text, "\n");
  return response;
}

Reply Whole(const HttpResponse& response, bool head_only) {
  Reply reply;
  reply.bytes = SerializeResponse(response, head_only);
  return reply;
}

// What answers a complete head.
Reply Answer(absl::string_view head, const HttpHandler& handler) {
  const absl::StatusOr<HttpRequest> request = ParseRequestHead(head);
  if (!request.ok()) return Whole(Plain(400, request.status().message()), false);
  const bool head_only = request->method == "HEAD";
  if (request->method != "GET" && !head_only) {
    HttpResponse response = Plain(405, "GET and HEAD only");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return Whole(response, false);
  }
  if (request->announces_body) return Whole(Plain(413, "requests carry no body here"), head_only);
  HttpResponse response = handler(*request);
  if (!response.shared_body || head_only) return Whole(response, head_only);
  return Reply{SerializeHead(response), *response.shared_body, std::move(response.body_owner)};
}

// The bytes that answer a full buffer that holds no complete head.
Reply TooLarge(absl::string_view head) {
  const bool in_request_line = head.find("\r\n") == absl::string_view::npos;
  return Whole(in_request_line ? Plain(414, "request line too long") : Plain(431, "request head too large"), false);
}

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

int BindOne(const addrinfo& address) {
  const int fd = socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, address.ai_addr, address.ai_addrlen) == 0 && listen(fd, kListenBacklog) == 0) return fd;
  close(fd);
  return -1;
}

// A non-blocking listening socket on host:port, and the port it got.
absl::StatusOr<std::pair<int, int>> Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int error = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found)) {
    return absl::UnavailableError(absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(error)));
  }
  int fd = -1;
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) fd = BindOne(*a);
  freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port, " (in use?)"));
  }
  const uint16_t bound_port = bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                                         : reinterpret_cast<sockaddr_in6&>(bound).sin6_port;
  return std::make_pair(fd, static_cast<int>(ntohs(bound_port)));
}

int PollTimeoutMs(absl::Time now, absl::Time next) {
  if (next == absl::InfiniteFuture()) return -1;
  // +1: wake just after the deadline, not just before it.
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(next - now) + 1, 0, 60'000));
}

}  // namespace

// Everything below runs on the loop thread, except Stop().
class HttpServer::Loop {
 public:
  // Takes ownership of both descriptors.
  Loop(int listen_fd, int wake_fd, const HttpServerLimits& limits, HttpHandler handler)
      : listen_fd_(listen_fd), wake_fd_(wake_fd), limits_(limits), handler_(std::move(handler)) {}
  ~Loop() {
    for (const auto& c : connections_) Close(*c);
    close(listen_fd_);
    close(wake_fd_);
  }

  // Makes Run() return; thread-safe. Cannot fail in a way that matters: a
  // write is refused only when the counter is already non-zero.
  void Stop() {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }

  void Run() {
    std::vector<pollfd> fds;
    while (true) {
      const absl::Time now = absl::Now();
      const absl::Time next = Watch(now, fds);
      if (poll(fds.data(), fds.size(), PollTimeoutMs(now, next)) < 0 && errno != EINTR) {
        TLOG(ERROR) << "status page stops: poll: " << std::strerror(errno);
        return;
      }
      if (fds[0].revents != 0) return;
      Serve(fds, absl::Now());
    }
  }

 private:
  // Fills `fds`: the wake-up eventfd, the listening socket (-1, which poll
  // skips, while accepting is paused), then each connection in order.
  // Returns the earliest deadline.
  absl::Time Watch(absl::Time now, std::vector<pollfd>& fds) const {
    const bool accepting = now >= accept_paused_until_;
    absl::Time next = accepting ? absl::InfiniteFuture() : accept_paused_until_;
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
    for (const auto& c : connections_) {
      fds.push_back({c->fd, static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
      next = std::min(next, c->deadline);
    }
    return next;
  }

  // Acts on what poll() reported in `fds` (laid out by Watch), then on the
  // deadlines; accepts last, so the new connections are not in `fds`.
  void Serve(const std::vector<pollfd>& fds, absl::Time now) {
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (fds[i + 2].revents == 0) continue;
      Connection& c = *connections_[i];
      if (c.out.empty()) Read(c, now);
      else Write(c);
    }
    Sweep(now);
    if (fds[1].revents != 0) Accept(now);
  }

  void Accept(absl::Time now) {
    for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
      sockaddr_storage address{};
      socklen_t length = sizeof(address);
      const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        Admit(fd, ClientKey(address), now);
      } else if (errno != ECONNABORTED && errno != EINTR) {
        if (!WouldBlock()) accept_paused_until_ = now + kAcceptPause;
        return;
      }
    }
  }

  void Admit(int fd, std::string client, absl::Time now) {
    int& count = per_client_[client];
    if (connections_.size() >= static_cast<size_t>(limits_.max_connections) ||
        count >= limits_.max_connections_per_client) {
      if (count == 0) per_client_.erase(client);
      send(fd, kBusy, sizeof(kBusy) - 1, MSG_NOSIGNAL);
      close(fd);
      return;
    }
    ++count;
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    connection->client = std::move(client);
    connection->deadline = now + limits_.head_timeout;
    connections_.push_back(std::move(connection));
  }

  // Reads what fits in the head buffer, and answers once the head is whole
  // or the buffer full.
  void Read(Connection& c, absl::Time now) {
    const ssize_t n = recv(c.fd, c.head + c.head_size, kMaxHeadBytes - c.head_size, 0);
    if (n < 0 && WouldBlock()) return;
    if (n <= 0) return Close(c);
    // The end of the head may straddle the previous read.
    const size_t from = c.head_size < kEndOfHead.size() ? 0 : c.head_size - (kEndOfHead.size() - 1);
    c.head_size += n;
    const absl::string_view head(c.head, c.head_size);
    const size_t end = head.find(kEndOfHead, from);
    if (end != absl::string_view::npos) {
      Respond(c, Answer(head.substr(0, end + kEndOfHead.size()), handler_), now);
    } else if (c.head_size == kMaxHeadBytes) {
      Respond(c, TooLarge(head), now);
    }
  }

  void Respond(Connection& c, Reply reply, absl::Time now) {
    c.out = std::move(reply.bytes);
    c.body = reply.body;
    c.body_owner = std::move(reply.body_owner);
    const double bytes = static_cast<double>(c.out.size() + c.body.size());
    c.deadline = now + limits_.write_timeout + absl::Seconds(bytes / limits_.min_send_bytes_per_s);
    Write(c);
  }

  // Sends what the socket takes of the head, then of the body.
  void Write(Connection& c) {
    const bool in_head = c.sent < c.out.size();
    const absl::string_view rest = in_head ? absl::string_view(c.out).substr(c.sent)
                                           : c.body.substr(c.sent - c.out.size());
    const ssize_t n = send(c.fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && WouldBlock()) return;
    if (n < 0) return Close(c);
    c.sent += n;
    if (c.sent == c.out.size() + c.body.size()) Close(c);
  }

  void Close(Connection& c) {
    if (c.fd < 0) return;
    close(c.fd);
    c.fd = -1;
    c.body_owner.reset();
    const auto it = per_client_.find(c.client);
    if (--it->second == 0) per_client_.erase(it);
  }

  // Closes the connections past their deadline and forgets the closed ones.
  void Sweep(absl::Time now) {
    for (const auto& c : connections_) {
      if (c->deadline <= now) Close(*c);
    }
    connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                      [](const std::unique_ptr<Connection>& c) { return c->fd < 0; }),
                       connections_.end());
  }

  const int listen_fd_;
  const int wake_fd_;
  const HttpServerLimits limits_;
  const HttpHandler handler_;
  std::vector<std::unique_ptr<Connection>> connections_;  // at most limits_.max_connections
  absl::flat_hash_map<std::string, int> per_client_;     // open connections by ClientKey; no zeros
  absl::Time accept_paused_until_ = absl::InfinitePast();
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                              const HttpServerLimits& limits, HttpHandler handler) {
  absl::StatusOr<std::pair<int, int>> listening = Listen(host, port);
  if (!listening.ok()) return listening.status();
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    close(listening->first);
    return absl::UnavailableError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  auto loop = std::make_unique<Loop>(listening->first, wake_fd, limits, std::move(handler));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(loop), listening->second));
}

HttpServer::HttpServer(std::unique_ptr<Loop> loop, int port)
    : loop_(std::move(loop)), port_(port), thread_([this] { loop_->Run(); }) {}

HttpServer::~HttpServer() {
  loop_->Stop();
  thread_.join();
}

}  // namespace tributary::coordinator
