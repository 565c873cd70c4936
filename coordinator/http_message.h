// The two ends of one HTTP/1.1 exchange on the status endpoint, as pure
// functions: parsing a request head (request line and headers, no body) and
// writing a response. No sockets; http_server.h does the I/O.
//
// The parser is strict, because everything it accepts comes from the
// network: lines end in CRLF, the target is origin-form ("/path?query") or
// absolute-form ("http://host/path?query", reduced to its path and query),
// header names are tokens followed directly by ':', no obsolete line folding,
// no control characters. It keeps only what the server decides on:
// Authorization, and whether a body is announced. A head is bounded by the
// caller (kMaxHeadBytes in http_server.h), so the parser needs no limit of
// its own.
#ifndef TRIBUTARY_COORDINATOR_HTTP_MESSAGE_H_
#define TRIBUTARY_COORDINATOR_HTTP_MESSAGE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary::coordinator {

// The blank line that ends a request head.
inline constexpr absl::string_view kEndOfHead = "\r\n\r\n";

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string path;    // "/api/status"; percent escapes kept as sent
  std::string query;   // what followed '?', raw; "" when none
  // The Authorization header's value; "" when absent.
  std::string authorization;
  // A Transfer-Encoding header, or a Content-Length other than 0.
  bool announces_body = false;
};

// `head`: from the request line through the blank line that ends the
// headers ("...\r\n\r\n"). INVALID_ARGUMENT saying what is malformed
// (answered with 400) for anything else, and for a repeated Authorization,
// Content-Length or Transfer-Encoding, which would be ambiguous.
absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head);

struct HttpResponse {
  int status = 200;
  std::string content_type;  // no Content-Type header when empty
  std::string body;
  // A large body sent in place rather than copied (a model's megabytes):
  // when set, it is the body instead of `body`, and `body_owner` (may be
  // null for bytes that outlive the server) keeps it alive until sent.
  std::optional<absl::string_view> shared_body;
  std::shared_ptr<const void> body_owner;
  std::vector<std::pair<std::string, std::string>> headers;  // added as given

  absl::string_view Body() const { return shared_body ? *shared_body : absl::string_view(body); }
};

// The status line and headers, with Content-Length (of Body()) and
// "Connection: close", through the blank line.
std::string SerializeHead(const HttpResponse& response);

// The response's bytes: SerializeHead and the body; without the body when
// `head_only` (for HEAD), the length still the body's.
std::string SerializeResponse(const HttpResponse& response, bool head_only);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_HTTP_MESSAGE_H_
