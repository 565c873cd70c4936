// Transport security of the coordinator's gRPC port: server credentials
// from the --tls_* flags' PEM files, the one line at start that says how
// the port is protected, and the fingerprint that names a worker by the
// client certificate it presented under mutual TLS.
#ifndef TRIBUTARY_COORDINATOR_TLS_H_
#define TRIBUTARY_COORDINATOR_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/server_credentials.h"

namespace tributary::coordinator {

struct ServerTlsOptions {
  std::string cert_path;       // --tls_cert: the server's certificate chain (PEM).
  std::string key_path;        // --tls_key: its private key (PEM).
  std::string client_ca_path;  // --tls_client_ca: when set, mutual TLS with clients signed by this CA.

  bool enabled() const { return !cert_path.empty(); }
};

// Plaintext (insecure) credentials when no flag is set; TLS with a
// certificate and key; with a client CA as well, TLS that requires every
// client to present a certificate that CA signed. INVALID_ARGUMENT naming
// the flag (and file) at fault: a certificate without its key or the
// reverse, a client CA without a server certificate, a file that cannot be
// read or parsed, a key that is not the certificate's.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFiles(
    const ServerTlsOptions& options);

// Logs how the gRPC port at `listen` (HOST:PORT) is protected, once at
// start: INFO with TLS, a WARNING for plaintext on a loopback address, and
// an ERROR for plaintext on any other address, where strangers can read
// and alter the traffic.
void LogTransportSecurity(const ServerTlsOptions& options, absl::string_view listen);

// Whether HOST:PORT names a loopback address (127.0.0.0/8, ::1, localhost);
// false for wildcards (0.0.0.0, [::]) and every other host.
bool IsLoopbackAddress(absl::string_view listen);

// "sha256:" and 64 lowercase hex digits of the DER of the certificate the
// peer presented (see CertificateFingerprint in common/pem.h), or "" when
// it presented none: plaintext, or TLS without client certificates.
std::string PeerCertificateFingerprint(const grpc::AuthContext& auth);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_TLS_H_
