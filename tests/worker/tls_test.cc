#include "worker/tls.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

using ::testing::HasSubstr;

std::string DataPath(const std::string& name) {
  return std::string(TRIBUTARY_SOURCE_DIR) + "/tests/data/tls/" + name;
}

TEST(ChannelCredentialsTest, NoFlagsIsPlaintext) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = ChannelCredentialsFromFiles({});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST(ChannelCredentialsTest, CaAndClientCertificateMakeMutualTls) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = ChannelCredentialsFromFiles(
      {DataPath("test-cert.pem"), DataPath("test-cert.pem"), DataPath("test-key.pem")});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST(ChannelCredentialsTest, ClientCertificateWithoutCaIsRefused) {
  EXPECT_THAT(ChannelCredentialsFromFiles({"", DataPath("test-cert.pem"), DataPath("test-key.pem")})
                  .status().message(),
              HasSubstr("--tls_ca"));
}

TEST(ChannelCredentialsTest, HalfAKeyPairNamesTheMissingFlag) {
  EXPECT_THAT(ChannelCredentialsFromFiles({DataPath("test-cert.pem"), DataPath("test-cert.pem"), ""})
                  .status().message(),
              HasSubstr("--tls_key"));
  EXPECT_THAT(ChannelCredentialsFromFiles({DataPath("test-cert.pem"), "", DataPath("test-key.pem")})
                  .status().message(),
              HasSubstr("--tls_cert"));
}

TEST(ChannelCredentialsTest, UnreadableCaIsNamed) {
  EXPECT_THAT(ChannelCredentialsFromFiles({"/nonexistent/ca.pem", "", ""}).status().message(),
              HasSubstr("--tls_ca: /nonexistent/ca.pem"));
}

}  // namespace
}  // namespace tributary::worker
