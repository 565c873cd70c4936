#include "coordinator/tls.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/file.h"
#include "grpc/grpc_security_constants.h"

namespace tributary::coordinator {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string DataPath(const std::string& name) {
  return std::string(TRIBUTARY_SOURCE_DIR) + "/tests/data/tls/" + name;
}

TEST(IsLoopbackAddressTest, OnlyLoopbackHostsAre) {
  for (const char* listen : {"127.0.0.1:7070", "127.1.2.3:0", "localhost:7070", "[::1]:7070"}) {
    EXPECT_TRUE(IsLoopbackAddress(listen)) << listen;
  }
  for (const char* listen : {"0.0.0.0:7070", "[::]:7070", ":7070", "10.0.0.1:7070", "example.com:7070",
                             "127.example.com:7070", "128.0.0.1:7070"}) {
    EXPECT_FALSE(IsLoopbackAddress(listen)) << listen;
  }
}

TEST(ServerCredentialsTest, NoFlagsIsPlaintext) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentialsFromFiles({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST(ServerCredentialsTest, CertificateAndKeyMakeTls) {
  ServerTlsOptions options;
  options.cert_path = DataPath("test-cert.pem");
  options.key_path = DataPath("test-key.pem");
  options.client_ca_path = DataPath("test-cert.pem");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentialsFromFiles(options);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST(ServerCredentialsTest, HalfAKeyPairNamesTheMissingFlag) {
  ServerTlsOptions cert_only;
  cert_only.cert_path = DataPath("test-cert.pem");
  EXPECT_THAT(ServerCredentialsFromFiles(cert_only).status().message(), HasSubstr("--tls_key"));
  ServerTlsOptions key_only;
  key_only.key_path = DataPath("test-key.pem");
  EXPECT_THAT(ServerCredentialsFromFiles(key_only).status().message(), HasSubstr("--tls_cert"));
}

TEST(ServerCredentialsTest, ClientCaWithoutServerCertificateIsRefused) {
  ServerTlsOptions options;
  options.client_ca_path = DataPath("test-cert.pem");
  EXPECT_THAT(ServerCredentialsFromFiles(options).status().message(), HasSubstr("--tls_client_ca"));
}

TEST(ServerCredentialsTest, UnreadableClientCaIsNamed) {
  ServerTlsOptions options;
  options.cert_path = DataPath("test-cert.pem");
  options.key_path = DataPath("test-key.pem");
  options.client_ca_path = "/nonexistent/ca.pem";
  EXPECT_THAT(ServerCredentialsFromFiles(options).status().message(),
              HasSubstr("--tls_client_ca: /nonexistent/ca.pem"));
}

// What LogTransportSecurity writes: its lines on stderr.
std::string TransportSecurityLog(const ServerTlsOptions& options, const std::string& listen) {
  ::testing::internal::CaptureStderr();
  LogTransportSecurity(options, listen);
  return ::testing::internal::GetCapturedStderr();
}

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(LogTransportSecurityTest, PlaintextOnAPublicAddressIsOneErrorLine) {
  const std::string log = TransportSecurityLog({}, "0.0.0.0:7070");
  EXPECT_EQ(Lines(log), 1) << log;
  EXPECT_THAT(log, AllOf(HasSubstr("Z E "), HasSubstr("(PLAINTEXT) ON 0.0.0.0:7070"), HasSubstr("--tls_cert")));
}

TEST(LogTransportSecurityTest, PlaintextOnLoopbackIsOneWarning) {
  const std::string log = TransportSecurityLog({}, "127.0.0.1:7070");
  EXPECT_EQ(Lines(log), 1) << log;
  EXPECT_THAT(log, AllOf(HasSubstr("Z W "), HasSubstr("plaintext")));
}

TEST(LogTransportSecurityTest, TlsIsOneInfoLine) {
  ServerTlsOptions options;
  options.cert_path = DataPath("test-cert.pem");
  options.key_path = DataPath("test-key.pem");
  const std::string log = TransportSecurityLog(options, "0.0.0.0:7070");
  EXPECT_EQ(Lines(log), 1) << log;
  EXPECT_THAT(log, AllOf(HasSubstr("Z I "), HasSubstr("with TLS"), Not(HasSubstr("mutual"))));
}

// An AuthContext holding given properties, as gRPC fills one in after a
// handshake.
using Properties = std::vector<std::pair<std::string, std::string>>;

class FakeAuthContext : public grpc::AuthContext {
 public:
  explicit FakeAuthContext(Properties properties)
      : properties_(std::move(properties)) {}

  bool IsPeerAuthenticated() const override { return !properties_.empty(); }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    for (const auto& [key, value] : properties_) {
      if (key == name) values.emplace_back(value);
    }
    return values;
  }
  grpc::AuthPropertyIterator begin() const override { return NoProperties(); }
  grpc::AuthPropertyIterator end() const override { return NoProperties(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }

 private:
  // Iteration is not what the code under test uses.
  struct EmptyIterator : grpc::AuthPropertyIterator {};
  static grpc::AuthPropertyIterator NoProperties() { return EmptyIterator(); }

  Properties properties_;
};

TEST(PeerCertificateFingerprintTest, IsTheFingerprintOfThePresentedCertificate) {
  absl::StatusOr<std::string> pem = ReadFile(DataPath("test-cert.pem"));
  ASSERT_TRUE(pem.ok()) << pem.status();
  const FakeAuthContext auth(Properties{{GRPC_X509_PEM_CERT_PROPERTY_NAME, *pem}});
  // tests/data/tls/README.md: what openssl says.
  EXPECT_EQ(PeerCertificateFingerprint(auth),
            "sha256:bd1a56cdfde8cf7e579c6f293f8a79c6bdebcfb0930201674ffdf78943b6214e");
}

TEST(PeerCertificateFingerprintTest, IsEmptyWithoutACertificate) {
  EXPECT_EQ(PeerCertificateFingerprint(FakeAuthContext(Properties{})), "");
  EXPECT_EQ(PeerCertificateFingerprint(FakeAuthContext(Properties{{GRPC_X509_PEM_CERT_PROPERTY_NAME, "garbage"}})), "");
}

}  // namespace
}  // namespace tributary::coordinator
