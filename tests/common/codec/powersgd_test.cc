#include "common/codec/powersgd.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "Eigen/SVD"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::CodecSpec;

// A 40 x 30 matrix, a 5 x 4 one (too small to gain from factoring), a bias.
ParamLayout Layout() {
  ParamLayout layout;
  layout.Add("w", {40, 30});
  layout.Add("small", {5, 4});
  layout.Add("b", {30});
  return layout;
}

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// An update whose 40 x 30 matrix has rank `rank`; the rest random.
std::vector<float> UpdateOfRank(const ParamLayout& layout, int rank, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> update = Random(layout.size(), rng);
  const std::vector<float> a = Random(40 * rank, rng), b = Random(30 * rank, rng);
  layout.Matrix(absl::MakeSpan(update), 0) =
      ConstMatrixMap(a.data(), 40, rank) * ConstMatrixMap(b.data(), 30, rank).transpose();
  return update;
}

TEST(PowerSgdCodecTest, FactorsOnlyMatricesThatShrink) {
  const PowerSgdCodec codec(4, ValueCoding{}, ValueCoding{}, Layout());
  ASSERT_EQ(codec.blocks().size(), 3u);
  EXPECT_EQ(codec.blocks()[0].rank, 4);
  EXPECT_EQ(codec.blocks()[1].rank, 0);  // 4 * (5 + 4) >= 20.
  EXPECT_EQ(codec.blocks()[2].rank, 0);
  // varint rank, P and Q of the matrix, the small matrix and bias whole.
  EXPECT_EQ(codec.MaxEncodedBytes(), 1 + 4 * (4 * (40 + 30) + 20 + 30));
}

TEST(PowerSgdCodecTest, ExactOnAMatrixOfRankAtMostR) {
  const ParamLayout layout = Layout();
  for (int rank : {1, 3, 4}) {
    const PowerSgdCodec codec(4, ValueCoding{}, ValueCoding{}, layout);
    const std::vector<float> update = UpdateOfRank(layout, rank, rank);
    const std::string payload = codec.NewEncoder()->Encode(update);
    EXPECT_EQ(payload.size(), codec.MaxEncodedBytes());
    std::vector<float> decoded(update.size());
    ASSERT_TRUE(codec.Decode(payload, absl::MakeSpan(decoded)).ok());
    // Exact up to float rounding, which grows with the matrix's norm and
    // condition (the power iteration's Gram-Schmidt), not with each
    // element: so the bound is on the relative Frobenius error (measured
    // 2.5e-7 at rank 1, 8.8e-6 at rank 4; a rank short gives ~0.1). An
    // element-wise 1e-4 failed by 3 % on an AVX-512 machine.
    const Eigen::Map<const Eigen::VectorXf> want(update.data(), update.size()), got(decoded.data(), decoded.size());
    EXPECT_LT((got - want).norm() / want.norm(), 1e-4f) << "rank " << rank;
  }
}

TEST(PowerSgdCodecTest, WarmStartConvergesToTheBestRankRApproximation) {
  // Power iteration on a fixed full-rank matrix: the error falls towards
  // the best rank-r error (Eckart-Young: the tail singular values).
  const ParamLayout layout = Layout();
  std::mt19937 rng(5);
  std::vector<float> update = UpdateOfRank(layout, 2, 9);
  std::vector<float> noise = Random(40 * 30, rng);
  for (size_t i = 0; i < noise.size(); ++i) update[i] += 0.05f * noise[i];
  const PowerSgdCodec codec(2, ValueCoding{}, ValueCoding{}, layout);
  const std::unique_ptr<Encoder> encoder = codec.NewEncoder();
  const ConstMatrixMap m = layout.Matrix(absl::MakeConstSpan(update), 0);
  Eigen::JacobiSVD<Eigen::MatrixXf> svd(m.cast<float>());
  const float best = svd.singularValues().tail(28).norm();
  std::vector<float> decoded(update.size());
  float error = 0;
  for (int step = 0; step < 10; ++step) {
    ASSERT_TRUE(codec.Decode(encoder->Encode(update), absl::MakeSpan(decoded)).ok());
    error = (layout.Matrix(absl::MakeConstSpan(decoded), 0) - m).norm();
  }
  EXPECT_LE(error, best * 1.01f);
}

TEST(PowerSgdCodecTest, Fp16FactorsAndInt8VectorsCompose) {
  const ParamLayout layout = Layout();
  const PowerSgdCodec fp32(4, ValueCoding{}, ValueCoding{}, layout);
  const PowerSgdCodec small(4, ValueCoding{CodecSpec::FP16}, ValueCoding{CodecSpec::INT8, 16}, layout);
  const std::vector<float> update = UpdateOfRank(layout, 2, 3);
  const std::string payload = small.NewEncoder()->Encode(update);
  EXPECT_EQ(payload.size(), small.MaxEncodedBytes());
  EXPECT_EQ(payload.size(), 1 + 2 * 4 * (40 + 30) + (50 + 4 * 4));
  std::vector<float> decoded(update.size());
  ASSERT_TRUE(small.Decode(payload, absl::MakeSpan(decoded)).ok());
  const ConstMatrixMap m = layout.Matrix(absl::MakeConstSpan(update), 0);
  EXPECT_LT((layout.Matrix(absl::MakeConstSpan(decoded), 0) - m).norm(), 2e-3f * m.norm());
}

TEST(PowerSgdCodecTest, Int4FactorsAndVectorsCompose) {
  const ParamLayout layout = Layout();
  const PowerSgdCodec fp32(4, ValueCoding{}, ValueCoding{}, layout);
  const PowerSgdCodec small(4, ValueCoding{CodecSpec::INT4, 16}, ValueCoding{CodecSpec::INT4, 16}, layout);
  const std::vector<float> update = UpdateOfRank(layout, 2, 3);
  const std::string payload = small.NewEncoder()->Encode(update);
  EXPECT_EQ(payload.size(), small.MaxEncodedBytes());
  // P (160 values) and Q (120) of the matrix, the small matrix (20) and the
  // bias (30) whole: half a byte a value, one fp32 scale per 16 of them.
  EXPECT_EQ(payload.size(), 1 + (80 + 10 * 4) + (60 + 8 * 4) + (10 + 2 * 4) + (15 + 2 * 4));
  std::vector<float> decoded(update.size()), exact(update.size());
  ASSERT_TRUE(small.Decode(payload, absl::MakeSpan(decoded)).ok());
  ASSERT_TRUE(fp32.Decode(fp32.NewEncoder()->Encode(update), absl::MakeSpan(exact)).ok());
  // Each factor value is within 1/14 of its block's absmax of fp32's; the
  // product lands about 12 % off here.
  const ConstMatrixMap m = layout.Matrix(absl::MakeConstSpan(exact), 0);
  EXPECT_LT((layout.Matrix(absl::MakeConstSpan(decoded), 0) - m).norm(), 0.2f * m.norm());
}

TEST(PowerSgdCodecTest, RefusesMalformedPayloads) {
  const ParamLayout layout = Layout();
  const PowerSgdCodec codec(4, ValueCoding{}, ValueCoding{}, layout);
  const std::string good = codec.NewEncoder()->Encode(UpdateOfRank(layout, 2, 1));
  std::vector<float> decoded(layout.size());
  auto refused = [&](const std::string& p, absl::string_view why) {
    const absl::Status s = codec.Decode(p, absl::MakeSpan(decoded));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << why;
    EXPECT_NE(s.message().find(why), absl::string_view::npos) << s;
  };
  ASSERT_TRUE(codec.Decode(good, absl::MakeSpan(decoded)).ok());
  std::string other_rank = good;
  other_rank[0] = 3;
  refused(other_rank, "rank 3, the job uses 4");
  refused(good.substr(0, good.size() - 1), "too short");
  refused(good + "x", "trailing bytes");
  refused("", "truncated rank");
  // Finite factors whose product overflows.
  std::string huge = good;
  const float big = 1e30f;
  for (int i = 0; i < 4; ++i) std::memcpy(huge.data() + 1 + i * 4, &big, 4);
  for (int i = 0; i < 4; ++i) std::memcpy(huge.data() + 1 + 4 * 4 * 40 + i * 4, &big, 4);
  refused(huge, "NaN or Inf");
  std::vector<float> wrong_size(3);
  EXPECT_TRUE(absl::IsInvalidArgument(codec.Decode(good, absl::MakeSpan(wrong_size))));
}

}  // namespace
}  // namespace tributary
