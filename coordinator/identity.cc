#include "coordinator/identity.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tributary::coordinator {
namespace {

constexpr char kTokenPrefix[] = "token:";
// gRPC peer strings are made by gRPC, but bound them anyway.
constexpr size_t kMaxPeerBytes = 128;

}  // namespace

std::string PeerAddress(absl::string_view peer) {
  absl::string_view rest = peer;
  if (absl::ConsumePrefix(&rest, "ipv4:")) {
    return std::string(rest.substr(0, rest.rfind(':')));
  }
  if (absl::ConsumePrefix(&rest, "ipv6:")) {
    // "[addr]:port", possibly percent-encoded brackets.
    if (absl::ConsumePrefix(&rest, "%5B")) return std::string(rest.substr(0, rest.find("%5D")));
    if (absl::ConsumePrefix(&rest, "[")) return std::string(rest.substr(0, rest.find(']')));
  }
  return std::string(peer.substr(0, kMaxPeerBytes));
}

std::string WorkerIdentity(absl::string_view token_name, absl::string_view cert_fingerprint,
                           absl::string_view peer) {
  if (!token_name.empty()) return absl::StrCat(kTokenPrefix, token_name);
  if (!cert_fingerprint.empty()) return absl::StrCat("cert:", cert_fingerprint);
  return absl::StrCat("ip:", PeerAddress(peer));
}

absl::string_view TokenNameOf(absl::string_view identity) {
  return absl::ConsumePrefix(&identity, kTokenPrefix) ? identity : absl::string_view();
}

}  // namespace tributary::coordinator
