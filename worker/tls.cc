#include "worker/tls.h"

#include "absl/status/status.h"
#include "common/pem.h"

namespace tributary::worker {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFromFiles(
    const ClientTlsOptions& options) {
  if (absl::Status s = CheckBothOrNeither(options.cert_path, options.key_path); !s.ok()) return s;
  if (!options.enabled()) {
    if (!options.cert_path.empty()) {
      return absl::InvalidArgumentError("--tls_cert: needs --tls_ca, the CA that signed the coordinator's certificate");
    }
    return grpc::InsecureChannelCredentials();
  }
  absl::StatusOr<std::string> ca = ReadCertificates({"--tls_ca", options.ca_path});
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *std::move(ca);
  if (!options.cert_path.empty()) {
    absl::StatusOr<PemKeyPair> pair =
        ReadKeyPair({"--tls_cert", options.cert_path}, {"--tls_key", options.key_path});
    if (!pair.ok()) return pair.status();
    ssl.pem_cert_chain = std::move(pair->certificate_chain);
    ssl.pem_private_key = std::move(pair->private_key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace tributary::worker
