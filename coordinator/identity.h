// Who a worker is, for bans and per-identity limits, as one string:
//
//   "token:NAME"         the name of its join token (--join_token_file)
//   "cert:sha256:HEX"    its client certificate (mutual TLS)
//   "ip:ADDRESS"         its IP address, when it has neither
//
// in that order of preference: a named token is what an operator hands
// out and revokes; a certificate is the next best thing; an address is
// shared behind a NAT, and is all an open coordinator knows.
#ifndef TRIBUTARY_COORDINATOR_IDENTITY_H_
#define TRIBUTARY_COORDINATOR_IDENTITY_H_

#include <string>

#include "absl/strings/string_view.h"

namespace tributary::coordinator {

// The IP address in a gRPC peer string ("ipv4:1.2.3.4:5", "ipv6:[::1]:5");
// the whole string, bounded, for any other form.
std::string PeerAddress(absl::string_view peer);

// The identity of a worker that joined with a token named `token_name`
// ("" for none or a shared bare token), presenting a client certificate
// with `cert_fingerprint` ("" for none), from gRPC peer `peer`.
std::string WorkerIdentity(absl::string_view token_name, absl::string_view cert_fingerprint,
                           absl::string_view peer);

// The token name an identity was made from, or "" when it is not a token's.
absl::string_view TokenNameOf(absl::string_view identity);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_IDENTITY_H_
