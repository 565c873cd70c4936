#include "common/params.h"

#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(ParamLayoutTest, TensorsAreContiguousInOrder) {
  ParamLayout layout;
  EXPECT_EQ(layout.Add("w", {3, 4}), 0);
  EXPECT_EQ(layout.Add("b", {3}), 1);
  EXPECT_EQ(layout.size(), 15);
  EXPECT_EQ(layout.tensor(0).offset, 0);
  EXPECT_EQ(layout.tensor(1).offset, 12);
  EXPECT_EQ(layout.tensor(1).size, 3);
}

TEST(ParamLayoutTest, ViewsAliasTheFlatBufferRowMajor) {
  ParamLayout layout;
  layout.Add("w", {2, 3});
  layout.Add("b", {2});
  std::vector<float> flat(layout.size(), 0.0f);
  layout.Matrix(absl::MakeSpan(flat), 0)(1, 2) = 7.0f;
  layout.Vector(absl::MakeSpan(flat), 1)(1) = 9.0f;
  EXPECT_EQ(flat[1 * 3 + 2], 7.0f);
  EXPECT_EQ(flat[6 + 1], 9.0f);
  EXPECT_EQ(layout.Matrix(absl::MakeConstSpan(flat), 1).rows(), 1);
  EXPECT_EQ(layout.Matrix(absl::MakeConstSpan(flat), 1).cols(), 2);
}

TEST(FloatsFromBytesTest, RoundTripsAndChecksTheLength) {
  const std::vector<float> values = {1.5f, -2.0f};
  absl::StatusOr<std::vector<float>> back = FloatsFromBytes(FloatsToBytes(values), 2, "w");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
  EXPECT_FALSE(FloatsFromBytes(FloatsToBytes(values), 3, "w").ok());
}

// Optimizer state that is not in use restores from no bytes; UBSan found
// memcpy to the empty vector's null pointer here (aggregator_test).
TEST(FloatsFromBytesTest, ZeroFloatsFromNoBytes) {
  absl::StatusOr<std::vector<float>> empty = FloatsFromBytes("", 0, "momentum");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace tributary
