#include "common/pem.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/file.h"

namespace tributary {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string DataPath(const std::string& name) {
  return std::string(TRIBUTARY_SOURCE_DIR) + "/tests/data/tls/" + name;
}

// `openssl x509 -in test-cert.pem -noout -fingerprint -sha256`, lowercased,
// without colons (tests/data/tls/README.md).
constexpr char kTestCertFingerprint[] =
    "sha256:bd1a56cdfde8cf7e579c6f293f8a79c6bdebcfb0930201674ffdf78943b6214e";

TEST(PemTest, FingerprintIsOpensslsSha256OfTheDer) {
  absl::StatusOr<std::string> pem = ReadFile(DataPath("test-cert.pem"));
  ASSERT_TRUE(pem.ok()) << pem.status();
  absl::StatusOr<std::string> fingerprint = CertificateFingerprint(*pem);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  EXPECT_EQ(*fingerprint, kTestCertFingerprint);
}

TEST(PemTest, FingerprintOfTextWithoutACertificateIsAnError) {
  EXPECT_FALSE(CertificateFingerprint("").ok());
  EXPECT_FALSE(CertificateFingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  absl::StatusOr<std::string> key = ReadFile(DataPath("test-key.pem"));
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(CertificateFingerprint(*key).ok());
}

TEST(PemTest, ReadsAMatchingKeyPair) {
  absl::StatusOr<PemKeyPair> pair =
      ReadKeyPair({"--tls_cert", DataPath("test-cert.pem")}, {"--tls_key", DataPath("test-key.pem")});
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_THAT(pair->certificate_chain, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(pair->private_key, HasSubstr("BEGIN PRIVATE KEY"));
}

TEST(PemTest, AKeyOfAnotherCertificateNamesBothFlags) {
  absl::StatusOr<PemKeyPair> pair =
      ReadKeyPair({"--tls_cert", DataPath("test-cert.pem")}, {"--tls_key", DataPath("other-key.pem")});
  ASSERT_FALSE(pair.ok());
  EXPECT_THAT(pair.status().message(),
              AllOf(HasSubstr("--tls_key: "), HasSubstr("other-key.pem"), HasSubstr("--tls_cert")));
}

TEST(PemTest, AMissingFileNamesFlagAndPath) {
  absl::StatusOr<std::string> certs = ReadCertificates({"--tls_ca", "/nonexistent/ca.pem"});
  ASSERT_FALSE(certs.ok());
  EXPECT_THAT(certs.status().message(), HasSubstr("--tls_ca: /nonexistent/ca.pem"));
  EXPECT_EQ(certs.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PemTest, AKeyWhereACertificateBelongsIsNamed) {
  absl::StatusOr<std::string> certs = ReadCertificates({"--tls_cert", DataPath("test-key.pem")});
  ASSERT_FALSE(certs.ok());
  EXPECT_THAT(certs.status().message(), AllOf(HasSubstr("--tls_cert: "), HasSubstr("no PEM certificate")));
}

TEST(PemTest, ACertificateWhereAKeyBelongsIsNamed) {
  absl::StatusOr<PemKeyPair> pair =
      ReadKeyPair({"--tls_cert", DataPath("test-cert.pem")}, {"--tls_key", DataPath("test-cert.pem")});
  ASSERT_FALSE(pair.ok());
  EXPECT_THAT(pair.status().message(), AllOf(HasSubstr("--tls_key: "), HasSubstr("private key")));
}

}  // namespace
}  // namespace tributary
