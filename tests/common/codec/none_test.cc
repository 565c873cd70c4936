#include "common/codec/none.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(NoneCodecTest, RoundTripIsExact) {
  NoneCodec codec;
  const std::vector<float> update = {1.5f, -2.25f, 0.0f, 3e-8f};
  const std::string payload = codec.Encode(update);
  EXPECT_EQ(payload.size(), codec.MaxEncodedBytes(update.size()));
  std::vector<float> decoded(update.size());
  ASSERT_TRUE(codec.Decode(payload, absl::MakeSpan(decoded)).ok());
  EXPECT_EQ(decoded, update);
}

TEST(NoneCodecTest, RejectsWrongLength) {
  NoneCodec codec;
  std::vector<float> decoded(4);
  const absl::Status s = codec.Decode(std::string(15, '\0'), absl::MakeSpan(decoded));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

TEST(NoneCodecTest, RejectsNanAndInf) {
  NoneCodec codec;
  const std::vector<float> update = {1.0f, std::numeric_limits<float>::quiet_NaN(),
                                     std::numeric_limits<float>::infinity()};
  std::vector<float> decoded(update.size());
  const absl::Status s = codec.Decode(codec.Encode(update), absl::MakeSpan(decoded));
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("2 NaN or Inf"), absl::string_view::npos) << s;
}

TEST(CodecFactoryTest, UnknownCodecNamesTheField) {
  tributary::v1::CodecSpec spec;
  spec.set_name("zstd");
  const auto codec = CreateCodec(spec);
  ASSERT_FALSE(codec.ok());
  EXPECT_NE(codec.status().message().find("codec.name"), absl::string_view::npos);
}

}  // namespace
}  // namespace tributary
