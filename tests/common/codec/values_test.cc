// Property tests of the value formats every codec builds on.
#include "common/codec/values.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/codec/fp16.h"
#include "common/codec/int8.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::CodecSpec;

std::vector<float> RandomValues(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(Fp16Test, EveryFiniteHalfRoundTripsExactly) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const auto half = static_cast<uint16_t>(h);
    if (!HalfIsFinite(half)) continue;
    ASSERT_EQ(FloatToHalf(HalfToFloat(half)), half) << std::hex << h;
  }
}

TEST(Fp16Test, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // The smallest subnormal.
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  // Ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(Fp16Test, SaturatesFiniteOverflowButKeepsInfAndNan) {
  EXPECT_EQ(FloatToHalf(1e6f), 0x7bff);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xfbff);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_FALSE(HalfIsFinite(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
}

TEST(Fp16Test, RelativeErrorIsAtMostHalfAnUlp) {
  for (float x : RandomValues(10000, 10.0f, 1)) {
    if (std::abs(x) < std::ldexp(1.0f, -14)) continue;  // Subnormal halves have absolute error.
    EXPECT_LE(std::abs(HalfToFloat(FloatToHalf(x)) - x), std::ldexp(std::abs(x), -11)) << x;
  }
}

TEST(Int8Test, ErrorIsAtMostAbsmaxOver254PerBlock) {
  constexpr int kBlock = 64;
  std::vector<float> values = RandomValues(1000, 1.0f, 2);  // The last block is partial.
  values[70] = 50.0f;  // One outlier costs only its own block precision.
  std::string payload;
  AppendInt8Blocks(values, kBlock, &payload);
  ASSERT_EQ(payload.size(), Int8Bytes(values.size(), kBlock));
  ASSERT_EQ(payload.size(), 16 * sizeof(float) + 1000);
  std::vector<float> decoded(values.size());
  PayloadReader in(payload);
  ASSERT_TRUE(ReadInt8Blocks(in, kBlock, absl::MakeSpan(decoded)).ok());
  EXPECT_EQ(in.remaining(), 0u);
  for (size_t begin = 0; begin < values.size(); begin += kBlock) {
    const size_t end = std::min(values.size(), begin + kBlock);
    float absmax = 0;
    for (size_t i = begin; i < end; ++i) absmax = std::max(absmax, std::abs(values[i]));
    for (size_t i = begin; i < end; ++i) {
      EXPECT_LE(std::abs(decoded[i] - values[i]), absmax / 254 * (1 + 1e-6f)) << i;
    }
  }
  EXPECT_EQ(decoded[70], 50.0f);  // The absmax itself is exact.
}

TEST(Int8Test, RefusesBadScalesAndMinus128AndShortPayloads) {
  const std::vector<float> values = {1.0f, -0.5f, 0.25f, 0.0f};
  std::string payload;
  AppendInt8Blocks(values, 4, &payload);
  auto read = [](const std::string& bytes) {
    std::vector<float> decoded(4);
    PayloadReader in(bytes);
    return ReadInt8Blocks(in, 4, absl::MakeSpan(decoded));
  };
  ASSERT_TRUE(read(payload).ok());
  auto with_scale = [&](float scale) {
    std::string bad = payload;
    std::memcpy(bad.data(), &scale, sizeof(float));
    return bad;
  };
  EXPECT_TRUE(absl::IsInvalidArgument(read(with_scale(-1.0f))));
  EXPECT_TRUE(absl::IsInvalidArgument(read(with_scale(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(absl::IsInvalidArgument(read(with_scale(std::numeric_limits<float>::infinity()))));
  std::string minus_128 = payload;
  minus_128[sizeof(float) + 2] = static_cast<char>(-128);
  EXPECT_TRUE(absl::IsInvalidArgument(read(minus_128)));
  EXPECT_TRUE(absl::IsInvalidArgument(read(payload.substr(0, payload.size() - 1))));
}

TEST(ValueCodingTest, EveryFormatRoundTripsWithinItsBound) {
  const std::vector<float> values = RandomValues(300, 0.01f, 3);
  const float absmax = std::abs(*std::max_element(values.begin(), values.end(), [](float a, float b) {
    return std::abs(a) < std::abs(b);
  }));
  for (ValueFormat format : {CodecSpec::FP32, CodecSpec::FP16, CodecSpec::INT8}) {
    const ValueCoding coding{format, 128};
    std::string payload = "x";  // Appends after what is there.
    coding.Append(values, &payload);
    ASSERT_EQ(payload.size(), 1 + coding.Bytes(values.size())) << FormatName(format);
    PayloadReader in(payload);
    absl::string_view skip;
    ASSERT_TRUE(in.Take(1, &skip));
    std::vector<float> decoded(values.size());
    ASSERT_TRUE(coding.Read(in, absl::MakeSpan(decoded), "test").ok()) << FormatName(format);
    EXPECT_EQ(in.remaining(), 0u);
    for (size_t i = 0; i < values.size(); ++i) {
      const float bound = format == CodecSpec::FP32   ? 0.0f
                          : format == CodecSpec::FP16 ? std::ldexp(std::abs(values[i]), -11) + 1e-7f
                                                      : absmax / 254 * (1 + 1e-6f);
      EXPECT_LE(std::abs(decoded[i] - values[i]), bound) << FormatName(format) << " " << i;
    }
  }
}

TEST(ValueCodingTest, RefusesNonFiniteValuesInEveryFormat) {
  const std::vector<float> values = {1.0f, std::numeric_limits<float>::infinity(), 2.0f};
  for (ValueFormat format : {CodecSpec::FP32, CodecSpec::FP16, CodecSpec::INT8}) {
    const ValueCoding coding{format, 2};
    std::string payload;
    coding.Append(values, &payload);
    PayloadReader in(payload);
    std::vector<float> decoded(values.size());
    const absl::Status s = coding.Read(in, absl::MakeSpan(decoded), "update");
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << FormatName(format) << ": " << s;
  }
  // A finite int8 scale whose multiples overflow is caught too.
  std::string payload;
  const ValueCoding int8{CodecSpec::INT8, 4};
  int8.Append(std::vector<float>{1, 1, 1, 1}, &payload);
  const float huge = std::numeric_limits<float>::max();
  std::memcpy(payload.data(), &huge, sizeof(float));
  PayloadReader in(payload);
  std::vector<float> decoded(4);
  EXPECT_TRUE(absl::IsInvalidArgument(int8.Read(in, absl::MakeSpan(decoded), "update")));
}

// A topk payload may keep no values; found by tests/fuzz/codec_fuzzer.cc,
// as memcpy to the empty span's null pointer (UB, which UBSan reports).
TEST(ValueCodingTest, ReadsZeroValuesInEveryFormat) {
  for (ValueFormat format : {CodecSpec::FP32, CodecSpec::FP16, CodecSpec::INT8}) {
    PayloadReader in("");
    EXPECT_TRUE(ValueCoding{format}.Read(in, absl::Span<float>(), "update").ok()) << FormatName(format);
  }
}

TEST(PayloadReaderTest, VarintsRoundTripAndBadOnesFail) {
  std::string bytes;
  const std::vector<uint64_t> numbers = {0, 1, 127, 128, 300, 1ull << 32, ~0ull};
  for (uint64_t v : numbers) AppendVarint(v, &bytes);
  PayloadReader in(bytes);
  for (uint64_t v : numbers) {
    uint64_t got = 0;
    ASSERT_TRUE(in.ReadVarint(&got));
    EXPECT_EQ(got, v);
  }
  uint64_t got;
  EXPECT_FALSE(in.ReadVarint(&got));
  PayloadReader truncated(absl::string_view("\x80\x80", 2));
  EXPECT_FALSE(truncated.ReadVarint(&got));
  PayloadReader overflow(absl::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10));
  EXPECT_FALSE(overflow.ReadVarint(&got));
}

}  // namespace
}  // namespace tributary
