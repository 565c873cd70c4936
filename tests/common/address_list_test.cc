#include "common/address_list.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

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
