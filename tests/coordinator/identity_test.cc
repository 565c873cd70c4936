#include "coordinator/identity.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

TEST(IdentityTest, PeerAddressDropsThePort) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:51234"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:51234"), "::1");
  EXPECT_EQ(PeerAddress("ipv6:%5B::1%5D:51234"), "::1");
  EXPECT_EQ(PeerAddress("unix:/tmp/s"), "unix:/tmp/s");
}

TEST(IdentityTest, TokenNameThenCertificateThenAddress) {
  EXPECT_EQ(WorkerIdentity("alice", "sha256:ab", "ipv4:10.0.0.1:5"), "token:alice");
  EXPECT_EQ(WorkerIdentity("", "sha256:ab", "ipv4:10.0.0.1:5"), "cert:sha256:ab");
  EXPECT_EQ(WorkerIdentity("", "", "ipv4:10.0.0.1:5"), "ip:10.0.0.1");
  EXPECT_EQ(TokenNameOf("token:alice"), "alice");
  EXPECT_EQ(TokenNameOf("ip:10.0.0.1"), "");
}

}  // namespace
}  // namespace tributary::coordinator
