// A small, bounded HTTP/1.1 server for read-only pages: one thread runs a
// poll() loop that owns the listening socket and every connection, all
// non-blocking, so a stalled or trickling client costs a socket and a
// fixed buffer, never a thread.
//
// Per connection: one request ("Connection: close"). The head (request
// line and headers) must arrive whole within `head_timeout` of the accept
// and fit in kMaxHeadBytes (a full buffer without the end of the head gets
// 414 if the request line is unfinished, 431 otherwise); the response must
// be taken by the client within `write_timeout` plus its size at
// `min_send_bytes_per_s` (a model's 13 MB over a slow link); past either
// deadline the connection is closed. Only GET and HEAD (others: 405); a request that
// announces a body gets 413 and the body is never read; a malformed head
// gets 400 (http_message.h). A client address (an IPv4 address, or an IPv6
// /64) holds at most `max_connections_per_client` connections and all
// clients together `max_connections`; a connection over either is answered
// 503 and closed at once.
//
// The handler runs on the loop thread, so it must be quick (rendering a
// page under a short lock is; waiting on anything slow is not): while it
// runs, no other connection is served. (A large body goes out as
// HttpResponse::shared_body, uncopied, a socket buffer at a time between
// the other connections' turns.) In exchange there is no queue and
// no lock in the server, and a flood of clients cannot make it start more
// work than one request at a time.
#ifndef TRIBUTARY_COORDINATOR_HTTP_SERVER_H_
#define TRIBUTARY_COORDINATOR_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/http_message.h"

namespace tributary::coordinator {

// A browser's head is well under 2 KiB; 16 KiB leaves room for long
// cookies and tokens. Also the most a connection ever buffers on input.
inline constexpr size_t kMaxHeadBytes = 16 * 1024;

struct HttpServerLimits {
  absl::Duration head_timeout = absl::Seconds(5);
  absl::Duration write_timeout = absl::Seconds(5);
  // As slow as worker/timeouts.h lets a gRPC download be: 64 KiB/s.
  double min_send_bytes_per_s = 64 * 1024;
  // The status page needs few connections; the rest of the process's file
  // descriptors (1024 by default) stay for gRPC.
  int max_connections = 256;
  int max_connections_per_client = 16;
};

// Called for each GET or HEAD request without a body; for HEAD the server
// drops the body it returns. Must not throw.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds `host`:`port` (port 0 picks a free one; host "" or "0.0.0.0" or
  // "::" is every address) and starts the loop. UNAVAILABLE when the address
  // cannot be resolved or bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           const HttpServerLimits& limits, HttpHandler handler);
  // Stops the loop and closes every connection, answered or not.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  class Loop;
  HttpServer(std::unique_ptr<Loop> loop, int port);

  std::unique_ptr<Loop> loop_;
  int port_;
  std::thread thread_;  // runs loop_

};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_HTTP_SERVER_H_
