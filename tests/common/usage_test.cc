#include "common/usage.h"

#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(UsageTest, AFlagFileIsTheCallersPathWithoutItsLeadingSlashes) {
  EXPECT_TRUE(IsFlagFile("src/worker/main.cc", "/src/worker/main.cc"));
  EXPECT_TRUE(IsFlagFile("worker/main.cc", "worker/main.cc"));
  EXPECT_TRUE(IsFlagFile("worker/main.cc", "/build/src/worker/main.cc"));
}

TEST(UsageTest, AnotherFileIsNot) {
  EXPECT_FALSE(IsFlagFile("coordinator/main.cc", "/src/worker/main.cc"));
  EXPECT_FALSE(IsFlagFile("in.cc", "/src/worker/main.cc"));  // a suffix, but not a whole name
  EXPECT_FALSE(IsFlagFile("absl/flags/parse.cc", "/src/worker/main.cc"));
  EXPECT_FALSE(IsFlagFile("", "/src/worker/main.cc"));
}

}  // namespace
}  // namespace tributary
