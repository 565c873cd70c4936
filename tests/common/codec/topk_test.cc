#include "common/codec/topk.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "common/codec/bytes.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::CodecSpec;

// Distinct magnitudes in random order and signs.
std::vector<float> Shuffled(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 1.0f);
  std::mt19937 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  for (size_t i = 0; i < n; i += 2) v[i] = -v[i];
  return v;
}

TEST(TopKCodecTest, KeepsExactlyTheKLargestMagnitudes) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    const size_t n = 50 + seed * 37, k = 1 + seed * 3;
    const std::vector<float> update = Shuffled(n, seed);
    const TopKCodec codec(k, ValueCoding{}, n);
    std::vector<float> decoded(n);
    ASSERT_TRUE(codec.Decode(codec.Encode(update), absl::MakeSpan(decoded)).ok());
    // Magnitudes are 1..n, so the kept ones are exactly those above n - k.
    for (size_t i = 0; i < n; ++i) {
      if (std::abs(update[i]) > n - k) {
        EXPECT_EQ(decoded[i], update[i]) << "seed " << seed << " index " << i;
      } else {
        EXPECT_EQ(decoded[i], 0.0f) << "seed " << seed << " index " << i;
      }
    }
  }
}

TEST(TopKCodecTest, TiesAtTheThresholdGoToTheLowerIndices) {
  const TopKCodec codec(3, ValueCoding{}, 6);
  const std::vector<uint32_t> kept = codec.Select(std::vector<float>{1, -2, 2, 5, 2, 0});
  EXPECT_EQ(kept, (std::vector<uint32_t>{1, 2, 3}));
}

TEST(TopKCodecTest, PayloadIsVarintGapsThenValues) {
  const TopKCodec codec(2, ValueCoding{}, 1000);
  std::vector<float> update(1000, 0.0f);
  update[3] = 1.0f;
  update[900] = -2.0f;
  const std::string payload = codec.Encode(update);
  // k = 2 (1 byte), gap 4 (1 byte), gap 897 (2 bytes), two floats.
  EXPECT_EQ(payload.size(), 1 + 1 + 2 + 8u);
  EXPECT_LE(payload.size(), codec.MaxEncodedBytes());
}

TEST(TopKCodecTest, Int8AndInt4ValuesComposeWithinTheirBounds) {
  const size_t n = 4000, k = 400;
  const std::vector<float> update = Shuffled(n, 7);
  const TopKCodec fp32(k, ValueCoding{}, n);
  for (auto [format, max_level] : {std::pair{CodecSpec::INT8, 127}, std::pair{CodecSpec::INT4, 7}}) {
    const TopKCodec codec(k, ValueCoding{format, 64}, n);
    const std::string small = codec.Encode(update);
    EXPECT_LT(small.size(), fp32.Encode(update).size() / 2);
    EXPECT_LE(small.size(), codec.MaxEncodedBytes());
    std::vector<float> decoded(n);
    ASSERT_TRUE(codec.Decode(small, absl::MakeSpan(decoded)).ok());
    for (size_t i = 0; i < n; ++i) {
      if (std::abs(update[i]) > n - k) EXPECT_NEAR(decoded[i], update[i], n / (2.0f * max_level));
      else EXPECT_EQ(decoded[i], 0.0f);
    }
  }
}

// Payloads a worker could forge, each refused before the update is touched.
TEST(TopKCodecTest, RefusesMalformedPayloads) {
  const TopKCodec codec(3, ValueCoding{}, 10);
  auto payload = [](std::initializer_list<uint64_t> header, std::vector<float> values) {
    std::string p;
    for (uint64_t v : header) AppendVarint(v, &p);
    p.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    return p;
  };
  auto decode = [&](const std::string& p) {
    std::vector<float> decoded(10, 7.0f);
    return codec.Decode(p, absl::MakeSpan(decoded));
  };
  EXPECT_TRUE(decode(payload({2, 1, 9}, {1, 2})).ok());  // Indices 0 and 9.
  auto refused = [&](const std::string& p, absl::string_view why) {
    const absl::Status s = decode(p);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << why;
    EXPECT_NE(s.message().find(why), absl::string_view::npos) << s;
  };
  refused(payload({4, 1, 1, 1, 1}, {1, 2, 3, 4}), "the job allows 3");
  refused(payload({2, 1, 0}, {1, 2}), "not strictly increasing");
  refused(payload({2, 1, 10}, {1, 2}), "out of range");
  refused(payload({1, 11}, {1}), "out of range");
  refused(payload({1, ~0ull}, {1}), "out of range");
  refused(payload({2, 1, 1}, {1}), "too short");
  refused(payload({1, 1}, {1, 2}), "trailing bytes");
  refused(payload({1, 1}, {std::numeric_limits<float>::infinity()}), "NaN or Inf");
  refused(std::string("\x80", 1), "truncated count");
  refused(payload({2, 1}, {}), "truncated index");
}

}  // namespace
}  // namespace tributary
