// PEM files for TLS, read and checked with OpenSSL before gRPC sees them,
// so that a wrong file fails at start with the flag and file that name it
// instead of as an opaque handshake error on every connection later. And
// the SHA-256 fingerprint that names a certificate (its holder's identity).
#ifndef TRIBUTARY_COMMON_PEM_H_
#define TRIBUTARY_COMMON_PEM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

// A PEM file named on the command line; errors name both:
// "--tls_key: /etc/t/server.key: not a PEM private key".
struct PemFile {
  std::string flag;  // With its dashes: "--tls_cert".
  std::string path;
};

// The file's text; INVALID_ARGUMENT when it cannot be read or holds no
// X.509 certificate that parses.
absl::StatusOr<std::string> ReadCertificates(const PemFile& file);

struct PemKeyPair {
  std::string certificate_chain;
  std::string private_key;
};

// A certificate chain and the private key of its first certificate;
// INVALID_ARGUMENT naming the flag and file at fault, also when the key
// does not belong to the certificate.
absl::StatusOr<PemKeyPair> ReadKeyPair(const PemFile& certificate, const PemFile& key);

// OK when both or neither of a certificate and its key are given (by the
// flags --tls_cert and --tls_key); INVALID_ARGUMENT naming the missing one.
absl::Status CheckBothOrNeither(const std::string& cert_path, const std::string& key_path);

// "sha256:" and 64 lowercase hex digits: the SHA-256 of the DER encoding of
// the first certificate in `pem`, as `openssl x509 -fingerprint -sha256`
// computes it. INVALID_ARGUMENT when `pem` holds no certificate.
absl::StatusOr<std::string> CertificateFingerprint(absl::string_view pem);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_PEM_H_
