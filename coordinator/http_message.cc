#include "coordinator/http_message.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tributary::coordinator {
namespace {

bool IsToken(absl::string_view s) {
  constexpr absl::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
           return absl::ascii_isalnum(c) || absl::StrContains(kPunctuation, c);
         });
}

// RFC 9110 field-value: visible bytes, SP and HTAB; bytes >= 0x80 pass as
// opaque (obs-text).
bool IsFieldValue(absl::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed request: ", what));
}

// Absolute-form ("http://host/p?q") is cut down to origin-form ("/p?q").
absl::Status ParseTarget(absl::string_view target, HttpRequest& request) {
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (!absl::StartsWithIgnoreCase(target, scheme)) continue;
    target.remove_prefix(scheme.size());
    const size_t path = target.find('/');
    target = path == absl::string_view::npos ? "/" : target.substr(path);
    break;
  }
  if (target.empty() || target[0] != '/') return Malformed("target is not a path");
  const bool printable = std::all_of(target.begin(), target.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
  if (!printable) return Malformed("control or non-ASCII byte in the target");
  const size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != absl::string_view::npos) request.query = std::string(target.substr(question + 1));
  return absl::OkStatus();
}

absl::Status ParseRequestLine(absl::string_view line, HttpRequest& request) {
  const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3) return Malformed("request line is not METHOD TARGET VERSION");
  if (!IsToken(parts[0])) return Malformed("method is not a token");
  if (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0") return Malformed("version is not HTTP/1.0 or 1.1");
  request.method = std::string(parts[0]);
  return ParseTarget(parts[1], request);
}

// The headers the server acts on, each allowed once.
struct SeenHeaders {
  bool authorization = false;
  bool content_length = false;
  bool transfer_encoding = false;
};

absl::Status Once(bool& seen, absl::string_view name) {
  if (seen) return Malformed(absl::StrCat("repeated ", name));
  seen = true;
  return absl::OkStatus();
}

absl::Status ParseHeader(absl::string_view line, SeenHeaders& seen, HttpRequest& request) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return Malformed("header line without ':'");
  // Also refuses obsolete folding and whitespace before the colon.
  const absl::string_view name = line.substr(0, colon);
  if (!IsToken(name)) return Malformed("header name is not a token");
  const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  if (!IsFieldValue(value)) return Malformed("control byte in a header value");
  if (absl::EqualsIgnoreCase(name, "Authorization")) {
    request.authorization = std::string(value);
    return Once(seen.authorization, "Authorization");
  }
  if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
    request.announces_body = true;
    return Once(seen.transfer_encoding, "Transfer-Encoding");
  }
  if (absl::EqualsIgnoreCase(name, "Content-Length")) {
    // Digits only, compared without converting: no overflow to think about.
    if (value.empty() || !std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
      return Malformed("Content-Length is not a number");
    }
    if (value.find_first_not_of('0') != absl::string_view::npos) request.announces_body = true;
    return Once(seen.content_length, "Content-Length");
  }
  return absl::OkStatus();
}

absl::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

}  // namespace

absl::StatusOr<HttpRequest> ParseRequestHead(absl::string_view head) {
  if (!absl::ConsumeSuffix(&head, kEndOfHead)) return Malformed("head does not end in CRLF CRLF");
  const std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_of("\r\n") != absl::string_view::npos) {
      return Malformed(absl::StrCat("line ", i + 1, " holds a bare CR or LF"));
    }
  }
  HttpRequest request;
  if (absl::Status status = ParseRequestLine(lines[0], request); !status.ok()) return status;
  SeenHeaders seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::Status status = ParseHeader(lines[i], seen, request); !status.ok()) return status;
  }
  return request;
}

std::string SerializeHead(const HttpResponse& response) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status), "\r\n");
  if (!response.content_type.empty()) absl::StrAppend(&out, "Content-Type: ", response.content_type, "\r\n");
  absl::StrAppend(&out, "Content-Length: ", response.Body().size(), "\r\nConnection: close\r\n");
  for (const auto& [name, value] : response.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  out += "\r\n";
  return out;
}

std::string SerializeResponse(const HttpResponse& response, bool head_only) {
  std::string out = SerializeHead(response);
  if (!head_only) absl::StrAppend(&out, response.Body());
  return out;
}

}  // namespace tributary::coordinator
