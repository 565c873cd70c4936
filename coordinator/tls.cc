#include "coordinator/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/pem.h"
#include "grpc/grpc_security_constants.h"

namespace tributary::coordinator {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFromFiles(
    const ServerTlsOptions& options) {
  if (absl::Status s = CheckBothOrNeither(options.cert_path, options.key_path); !s.ok()) return s;
  if (!options.enabled()) {
    if (!options.client_ca_path.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca: needs --tls_cert and --tls_key (mutual TLS is TLS too)");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<PemKeyPair> pair = ReadKeyPair({"--tls_cert", options.cert_path}, {"--tls_key", options.key_path});
  if (!pair.ok()) return pair.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({pair->private_key, pair->certificate_chain});
  if (!options.client_ca_path.empty()) {
    absl::StatusOr<std::string> client_ca = ReadCertificates({"--tls_client_ca", options.client_ca_path});
    if (!client_ca.ok()) return client_ca.status();
    ssl.pem_root_certs = *std::move(client_ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

void LogTransportSecurity(const ServerTlsOptions& options, absl::string_view listen) {
  if (options.enabled()) {
    TLOG(INFO) << "gRPC with TLS ("
               << (options.client_ca_path.empty() ? "no client certificates"
                                                  : "mutual: client certificates signed by --tls_client_ca required")
               << ")";
  } else if (IsLoopbackAddress(listen)) {
    TLOG(WARNING) << "gRPC without TLS (plaintext) on " << listen
                  << ": fine on this machine only; give --tls_cert and --tls_key to encrypt";
  } else {
    TLOG(ERROR) << "gRPC WITHOUT TLS (PLAINTEXT) ON " << listen << ", REACHABLE FROM OTHER MACHINES: anyone on "
                << "the network path can read and alter models, updates and tokens; give --tls_cert and "
                << "--tls_key (deploy/make-certs.sh makes them) or --listen=127.0.0.1:PORT";
  }
}

bool IsLoopbackAddress(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? listen : listen.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  if (host == "localhost") return true;
  const std::string address(host);
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::string PeerCertificateFingerprint(const grpc::AuthContext& auth) {
  const std::vector<grpc::string_ref> pems = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return "";
  absl::StatusOr<std::string> fingerprint = CertificateFingerprint(absl::string_view(pems[0].data(), pems[0].size()));
  return fingerprint.ok() ? *fingerprint : "";
}

}  // namespace tributary::coordinator
