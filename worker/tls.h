// Transport security of the worker's connection: channel credentials from
// the --tls_* flags' PEM files.
#ifndef TRIBUTARY_WORKER_TLS_H_
#define TRIBUTARY_WORKER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

namespace tributary::worker {

struct ClientTlsOptions {
  std::string ca_path;    // --tls_ca: the CA that signed the coordinator's certificate.
  std::string cert_path;  // --tls_cert: this worker's certificate, for mutual TLS.
  std::string key_path;   // --tls_key: its private key.

  bool enabled() const { return !ca_path.empty(); }
};

// Plaintext (insecure) credentials when no flag is set; TLS that trusts
// only the CA in `ca_path` otherwise, presenting the worker's certificate
// when one is given. INVALID_ARGUMENT naming the flag (and file) at fault:
// a certificate without its key or the reverse, a certificate without a CA
// to verify the coordinator, a file that cannot be read or parsed, a key
// that is not the certificate's.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFiles(
    const ClientTlsOptions& options);

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_TLS_H_
