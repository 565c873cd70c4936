// Property tests of the value formats every codec builds on.
#include "common/codec/values.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/codec/fp16.h"
#include "common/codec/int4.h"
#include "common/codec/int8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::CodecSpec;
using ::testing::HasSubstr;

constexpr ValueFormat kEveryFormat[] = {CodecSpec::FP32, CodecSpec::FP16, CodecSpec::INT8, CodecSpec::INT4};

std::vector<float> RandomValues(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// The bound a blockwise format with levels in [-max_level, max_level]
// promises: half a level of the block's absmax, plus float rounding.
float BlockwiseBound(float absmax, int max_level) { return absmax / (2 * max_level) * (1 + 1e-5f); }

// Checks every decoded value against the bound of its own block.
void ExpectWithinBlockBounds(const std::vector<float>& values, const std::vector<float>& decoded, int block_size,
                             int max_level) {
  ASSERT_EQ(decoded.size(), values.size());
  for (size_t begin = 0; begin < values.size(); begin += block_size) {
    const size_t end = std::min(values.size(), begin + block_size);
    float absmax = 0;
    for (size_t i = begin; i < end; ++i) absmax = std::max(absmax, std::abs(values[i]));
    for (size_t i = begin; i < end; ++i) {
      EXPECT_LE(std::abs(decoded[i] - values[i]), BlockwiseBound(absmax, max_level)) << i;
    }
  }
}

using ReadBlocksFn = absl::Status (*)(PayloadReader&, int, absl::Span<float>);

// Reads `n` values from an exact heap copy of `bytes`, so that a sanitizer
// sees any read past its end.
absl::Status ReadExact(ReadBlocksFn read, const std::string& bytes, int block_size, size_t n) {
  const std::vector<char> exact(bytes.begin(), bytes.end());
  std::vector<float> decoded(n);
  PayloadReader in(absl::string_view(exact.data(), exact.size()));
  return read(in, block_size, absl::MakeSpan(decoded));
}

// The two blockwise formats, each through its own functions.
struct BlockwiseFormat {
  const char* name;
  size_t (*bytes)(size_t n, int block_size);
  void (*append)(absl::Span<const float> values, int block_size, std::string* out);
  ReadBlocksFn read;
  int max_level;
};
constexpr BlockwiseFormat kInt8{"int8", Int8Bytes, AppendInt8Blocks, ReadInt8Blocks, 127};
constexpr BlockwiseFormat kInt4{"int4", Int4Bytes, AppendInt4Blocks, ReadInt4Blocks, 7};

std::string WithScale(std::string payload, float scale) {
  std::memcpy(payload.data(), &scale, sizeof(float));
  return payload;
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

TEST(Int8Test, RefusesBadScalesAndMinus128AndShortPayloads) {
  const std::vector<float> values = {1.0f, -0.5f, 0.25f, 0.0f};
  std::string payload;
  AppendInt8Blocks(values, 4, &payload);
  auto read = [](const std::string& bytes) { return ReadExact(ReadInt8Blocks, bytes, 4, 4); };
  ASSERT_TRUE(read(payload).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(read(WithScale(payload, -1.0f))));
  EXPECT_TRUE(absl::IsInvalidArgument(read(WithScale(payload, std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(absl::IsInvalidArgument(read(WithScale(payload, std::numeric_limits<float>::infinity()))));
  std::string minus_128 = payload;
  minus_128[sizeof(float) + 2] = static_cast<char>(-128);
  EXPECT_TRUE(absl::IsInvalidArgument(read(minus_128)));
  EXPECT_TRUE(absl::IsInvalidArgument(read(payload.substr(0, payload.size() - 1))));
}

TEST(BlockwiseTest, ErrorIsAtMostHalfALevelOfItsBlocksAbsmax) {
  constexpr int kBlock = 64;
  std::vector<float> values = RandomValues(1001, 1.0f, 2);  // Odd, and the last block is partial.
  values[70] = 50.0f;  // One outlier costs only its own block precision.
  for (const auto& [format, level_bytes] : {std::pair{kInt8, 1001}, std::pair{kInt4, 501}}) {
    SCOPED_TRACE(format.name);
    std::string payload;
    format.append(values, kBlock, &payload);
    ASSERT_EQ(payload.size(), format.bytes(values.size(), kBlock));
    ASSERT_EQ(payload.size(), 16 * sizeof(float) + level_bytes);
    std::vector<float> decoded(values.size());
    PayloadReader in(payload);
    ASSERT_TRUE(format.read(in, kBlock, absl::MakeSpan(decoded)).ok());
    EXPECT_EQ(in.remaining(), 0u);
    ExpectWithinBlockBounds(values, decoded, kBlock, format.max_level);
    EXPECT_EQ(decoded[70], 50.0f);  // The absmax itself is exact.
  }
}

TEST(Int4Test, PacksTwoNibblesAByteLowFirstAfterTheScales) {
  std::string payload;
  AppendInt4Blocks(std::vector<float>{7, -7, 1, 0, -1}, 8, &payload);  // Absmax 7: scale 1.
  ASSERT_EQ(payload.size(), sizeof(float) + 3);
  float scale;
  std::memcpy(&scale, payload.data(), sizeof(float));
  EXPECT_EQ(scale, 1.0f);
  // 7 | -7 << 4, 1 | 0 << 4, -1 and the odd count's 0 high nibble.
  EXPECT_EQ(payload.substr(sizeof(float)), std::string("\x97\x01\x0f"));
}

TEST(Int4Test, AZeroBlockHasScaleZeroAndDecodesToZeros) {
  std::vector<float> values(10, 0.0f);
  values[8] = 3.0f;  // Blocks of 4: two of zeros, then a partial one.
  std::string payload;
  AppendInt4Blocks(values, 4, &payload);
  float scale;
  std::memcpy(&scale, payload.data(), sizeof(float));
  EXPECT_EQ(scale, 0.0f);
  std::vector<float> decoded(values.size(), -1.0f);
  PayloadReader in(payload);
  ASSERT_TRUE(ReadInt4Blocks(in, 4, absl::MakeSpan(decoded)).ok());
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(decoded[i], 0.0f) << i;
  EXPECT_FLOAT_EQ(decoded[8], 3.0f);
  EXPECT_EQ(decoded[9], 0.0f);
}

TEST(Int4Test, RefusesBadScalesAndMinus8AndPaddingAndShortPayloads) {
  const std::vector<float> values = {1.0f, -0.5f, 0.25f, 0.0f, 0.75f};  // Odd: the last byte is half padding.
  std::string payload;
  AppendInt4Blocks(values, 4, &payload);
  ASSERT_EQ(payload.size(), 2 * sizeof(float) + 3);
  auto read = [](const std::string& bytes) { return ReadExact(ReadInt4Blocks, bytes, 4, 5); };
  ASSERT_TRUE(read(payload).ok());
  auto expect_refused = [&](const std::string& bytes, const std::string& why) {
    const absl::Status s = read(bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << why << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(why));
  };
  expect_refused(WithScale(payload, -1.0f), "block 0 has scale -1");
  expect_refused(WithScale(payload, std::numeric_limits<float>::quiet_NaN()), "block 0 has a NaN or Inf scale");
  expect_refused(WithScale(payload, std::numeric_limits<float>::infinity()), "block 0 has a NaN or Inf scale");
  std::string minus_8 = payload;
  minus_8[2 * sizeof(float) + 1] = static_cast<char>(0x80);  // Value 3, a high nibble.
  expect_refused(minus_8, "int4 value 3 is -8");
  std::string padding = payload;
  padding.back() = static_cast<char>(padding.back() | 0x10);
  expect_refused(padding, "int4 padding after value 4 is not 0");
  expect_refused(payload.substr(0, payload.size() - 1), "payload too short for 5 int4 values");
  expect_refused(payload.substr(0, sizeof(float) + 1), "payload too short for 5 int4 values");
}

// For random lengths (odd, even, empty), block sizes (tails of every
// length) and magnitudes, every blockwise format keeps every value within
// half a level of its own block's absmax.
TEST(BlockwiseTest, RandomVectorsRoundTripWithinHalfALevelPerBlock) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    const size_t n = std::uniform_int_distribution<size_t>(0, 300)(rng);
    const int block_size = std::uniform_int_distribution<int>(1, 70)(rng);
    const float magnitude = std::pow(10.0f, std::uniform_real_distribution<float>(-8, 4)(rng));
    std::vector<float> values = RandomValues(n, magnitude, rng());
    for (float& v : values) v *= std::uniform_int_distribution<int>(0, 4)(rng) == 0 ? 0.0f : 1.0f;
    for (auto [format, max_level] : {std::pair{CodecSpec::INT8, 127}, std::pair{CodecSpec::INT4, 7}}) {
      SCOPED_TRACE(::testing::Message() << FormatName(format) << " n " << n << " block " << block_size);
      const ValueCoding coding{format, block_size};
      std::string payload;
      coding.Append(values, &payload);
      ASSERT_EQ(payload.size(), coding.Bytes(n));
      std::vector<float> decoded(n);
      PayloadReader in(payload);
      ASSERT_TRUE(coding.Read(in, absl::MakeSpan(decoded), "test").ok());
      EXPECT_EQ(in.remaining(), 0u);
      ExpectWithinBlockBounds(values, decoded, block_size, max_level);
    }
  }
}

TEST(ValueCodingTest, EveryFormatRoundTripsWithinItsBound) {
  const std::vector<float> values = RandomValues(300, 0.01f, 3);
  const float absmax = std::abs(*std::max_element(values.begin(), values.end(), [](float a, float b) {
    return std::abs(a) < std::abs(b);
  }));
  for (ValueFormat format : kEveryFormat) {
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
                          : format == CodecSpec::INT8 ? BlockwiseBound(absmax, 127)
                                                      : BlockwiseBound(absmax, 7);
      EXPECT_LE(std::abs(decoded[i] - values[i]), bound) << FormatName(format) << " " << i;
    }
  }
}

TEST(ValueCodingTest, RefusesNonFiniteValuesInEveryFormat) {
  const std::vector<float> values = {1.0f, std::numeric_limits<float>::infinity(), 2.0f};
  for (ValueFormat format : kEveryFormat) {
    const ValueCoding coding{format, 2};
    std::string payload;
    coding.Append(values, &payload);
    PayloadReader in(payload);
    std::vector<float> decoded(values.size());
    const absl::Status s = coding.Read(in, absl::MakeSpan(decoded), "update");
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << FormatName(format) << ": " << s;
  }
  // A finite blockwise scale whose multiples overflow is caught too.
  for (ValueFormat format : {CodecSpec::INT8, CodecSpec::INT4}) {
    const ValueCoding coding{format, 4};
    std::string payload;
    coding.Append(std::vector<float>{1, 1, 1, 1}, &payload);
    const std::string huge = WithScale(payload, std::numeric_limits<float>::max());
    PayloadReader in(huge);
    std::vector<float> decoded(4);
    const absl::Status s = coding.Read(in, absl::MakeSpan(decoded), "update");
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << FormatName(format) << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("update: 4 NaN or Inf values")) << FormatName(format);
  }
}

// A topk payload may keep no values; found by tests/fuzz/codec_fuzzer.cc,
// as memcpy to the empty span's null pointer (UB, which UBSan reports).
TEST(ValueCodingTest, ReadsZeroValuesInEveryFormat) {
  for (ValueFormat format : kEveryFormat) {
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
