#include "worker/http_blob_source.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "worker/timeouts.h"

namespace tributary::worker {
namespace {

absl::Status BadUrl(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" is not http://HOST[:PORT][/PATH]: ", why));
}

bool IsHostChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_'; }

// Splits "HOST[:PORT]" or "[V6][:PORT]" into `url`.
absl::Status ParseAuthority(absl::string_view host, absl::string_view whole, BlobUrl& url) {
  absl::string_view port;
  bool has_port = false;
  if (absl::ConsumePrefix(&host, "[")) {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) return BadUrl(whole, "unclosed [");
    const absl::string_view after = host.substr(close + 1);
    host = host.substr(0, close);
    if (!after.empty() && after[0] != ':') return BadUrl(whole, "junk after ]");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    const bool v6 = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return absl::ascii_isxdigit(c) || c == ':' || c == '.';
    });
    if (!v6) return BadUrl(whole, "not an IPv6 address in []");
  } else {
    const size_t colon = host.find(':');
    has_port = colon != absl::string_view::npos;
    if (has_port) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), IsHostChar)) {
      return BadUrl(whole, "no host, or a character no host name has");
    }
  }
  url.host = std::string(host);
  if (has_port && (!absl::SimpleAtoi(port, &url.port) || url.port < 1 || url.port > 65535)) {
    return BadUrl(whole, "the port is not in 1..65535");
  }
  return absl::OkStatus();
}

// httplib's names for its errors ("Read") say little in a log line.
std::string Describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "no connection within the timeout";
    case httplib::Error::Read: return "no whole HTTP response (not HTTP/1.x, closed early, or timed out)";
    case httplib::Error::Write: return "the request could not be sent";
    default: return absl::StrCat("HTTP client error: ", httplib::to_string(error));
  }
}

}  // namespace

std::string BlobUrl::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("http://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port, path);
}

absl::StatusOr<BlobUrl> ParseBlobUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return BadUrl(url, absl::StartsWith(url, "https://") ? "https is not supported (the digest check makes it unneeded)"
                                                         : "the scheme must be http://");
  }
  const bool printable = std::all_of(rest.begin(), rest.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
  if (!printable) return BadUrl(url, "spaces, control or non-ASCII bytes");
  if (rest.find_first_of("?#@") != absl::string_view::npos) return BadUrl(url, "no query, fragment or user part");
  const size_t slash = rest.find('/');
  BlobUrl parsed;
  if (absl::Status s = ParseAuthority(rest.substr(0, slash), url, parsed); !s.ok()) return s;
  if (slash != absl::string_view::npos) {
    parsed.path = std::string(rest.substr(slash));
    while (absl::EndsWith(parsed.path, "/")) parsed.path.pop_back();
  }
  return parsed;
}

std::string HttpBlobSource::Path(const BlobRef& ref) const {
  return absl::StrCat(url_.path, "/blobs/", absl::BytesToHexString(ref.sha256));
}

std::string HttpBlobSource::Url(const BlobRef& ref) const {
  return absl::StrCat(url_.ToString(), "/blobs/", absl::BytesToHexString(ref.sha256));
}

absl::StatusOr<BlobBody> HttpBlobSource::Get(const BlobRef& ref) {
  const absl::Duration timeout = TransferTimeout(ref.bytes);
  const absl::Time deadline = absl::Now() + timeout;
  httplib::Client client(url_.host, url_.port);
  client.set_connection_timeout(absl::ToInt64Seconds(kUnaryTimeout));
  const int64_t read_us = absl::ToInt64Microseconds(timeout);
  client.set_read_timeout(read_us / 1'000'000, read_us % 1'000'000);
  client.set_write_timeout(absl::ToInt64Seconds(kUnaryTimeout));
  std::string problem;
  BlobBody body;
  body.bytes.reserve(ref.bytes);
  Sha256Hasher hasher;
  const httplib::Result result = client.Get(
      Path(ref),
      [&](const httplib::Response& response) {
        if (response.status != 200) {
          problem = absl::StrCat("HTTP ", response.status);
        } else if (response.has_header("Content-Length") &&
                   response.get_header_value("Content-Length") != absl::StrCat(ref.bytes)) {
          problem = absl::StrCat("Content-Length ", response.get_header_value("Content-Length"), ", ", ref.bytes,
                                 " expected");
        }
        return problem.empty();
      },
      [&](const char* data, size_t length) {
        if (body.bytes.size() + length > ref.bytes) {
          problem = absl::StrCat("a body longer than the ", ref.bytes, " bytes expected");
        } else if (absl::Now() > deadline) {
          problem = absl::StrCat("not received within ", absl::FormatDuration(timeout));
        } else {
          body.bytes.append(data, length);
          hasher.Update(absl::string_view(data, length));
        }
        return problem.empty();
      });
  if (!problem.empty()) return absl::DataLossError(problem);
  if (!result) return absl::UnavailableError(Describe(result.error()));
  body.sha256 = hasher.Finish();
  return body;
}

}  // namespace tributary::worker
