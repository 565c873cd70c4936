#include "common/address_list.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(SplitHostPortTest, SplitsNamesAndBracketedV6AndRefusesTheRest) {
  absl::StatusOr<HostPort> hp = SplitHostPort("example.org:7070");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "example.org");
  EXPECT_EQ(hp->port, 7070);
  hp = SplitHostPort("[::1]:0");  // A listener may ask for any port.
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 0);
  for (const char* bad : {"", "host", ":80", "host:", "host:-1", "host:65536", "host:http"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SplitHostPort(bad).status())) << bad;
  }
}

TEST(SplitAddressListTest, ParsesAndRefuses) {
  absl::StatusOr<std::vector<std::string>> list = SplitAddressList("a:1, b:2 ,[::1]:3");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(*list, ::testing::ElementsAre("a:1", "b:2", "[::1]:3"));
  for (const char* bad : {"", ",", "a", "a:0", "a:70000", ":1", "a:1,b", "a:x"}) {
    absl::StatusOr<std::vector<std::string>> refused = SplitAddressList(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << bad;
  }
  EXPECT_THAT(SplitAddressList("a:1,b").status().message(), ::testing::HasSubstr("\"b\" is not HOST:PORT"));
}

}  // namespace
}  // namespace tributary
