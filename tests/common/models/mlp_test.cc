#include "common/models/mlp.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tributary {
namespace {

tributary::v1::MlpSpec TinySpec() {
  tributary::v1::MlpSpec spec;
  spec.set_inputs(6);
  spec.add_hidden(5);
  spec.add_hidden(4);
  spec.set_classes(3);
  return spec;
}

// Room for the largest batch below.
constexpr ModelOptions kOptions{/*max_batch_examples=*/8, /*threads=*/1};

std::vector<uint8_t> RandomRecords(int n, int inputs, int classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> records;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < inputs; ++j) records.push_back(rng() % 256);
    records.push_back(rng() % classes);
  }
  return records;
}

double MeanLoss(MlpModel& model, const std::vector<float>& params, const std::vector<uint8_t>& records) {
  return model.Forward(params, records).value().mean_loss();
}

TEST(MlpTest, LayoutNamesAndSizes) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok()) << model.status();
  const ParamLayout& layout = (*model)->layout();
  ASSERT_EQ(layout.tensors().size(), 6u);
  EXPECT_EQ(layout.tensor(0).name, "fc0.weight");
  EXPECT_EQ(layout.tensor(0).shape, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(layout.tensor(5).name, "fc2.bias");
  EXPECT_EQ(layout.size(), 5 * 6 + 5 + 4 * 5 + 4 + 3 * 4 + 3);
  EXPECT_EQ((*model)->example_bytes(), 7);
}

TEST(MlpTest, UniformLogitsGiveLogClassesLoss) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size(), 0.0f);
  const auto records = RandomRecords(4, 6, 3, 1);
  const LossStats stats = (*model)->Forward(params, records).value();
  EXPECT_EQ(stats.examples, 4);
  EXPECT_NEAR(stats.mean_loss(), std::log(3.0), 1e-6);
}

// Every parameter's analytic gradient against a central difference of the
// loss, computed in double from float forward passes.
TEST(MlpTest, GradientMatchesFiniteDifferences) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  const int64_t n = (*model)->layout().size();
  std::vector<float> params(n);
  (*model)->InitParams(absl::MakeSpan(params), 7);
  const auto records = RandomRecords(5, 6, 3, 2);
  std::vector<float> grads(n);
  (*model)->ForwardBackward(params, records, absl::MakeSpan(grads)).value();

  const float eps = 1e-2f;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> plus = params, minus = params;
    plus[i] += eps;
    minus[i] -= eps;
    const double numeric = (MeanLoss(**model, plus, records) - MeanLoss(**model, minus, records)) / (2 * eps);
    EXPECT_NEAR(grads[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << "parameter " << i;
  }
}

TEST(MlpTest, BatchSizeMayShrinkAndGrowWithoutChangingResults) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size());
  (*model)->InitParams(absl::MakeSpan(params), 3);
  const auto big = RandomRecords(8, 6, 3, 4);
  const std::vector<uint8_t> small(big.begin(), big.begin() + 2 * 7);
  const double small_first = (*model)->Forward(params, small).value().loss_sum;
  (*model)->Forward(params, big).value();
  EXPECT_DOUBLE_EQ((*model)->Forward(params, small).value().loss_sum, small_first);
}

TEST(MlpTest, ABatchLargerThanBuiltForIsAnError) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size()), grads(params.size());
  const absl::StatusOr<LossStats> stats =
      (*model)->ForwardBackward(params, RandomRecords(9, 6, 3, 5), absl::MakeSpan(grads));
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("batch of 9 examples exceeds the 8"), absl::string_view::npos)
      << stats.status();
}

TEST(MlpTest, ALabelOutOfRangeIsAnError) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size());
  std::vector<uint8_t> records = RandomRecords(2, 6, 3, 6);
  records.back() = 3;
  const absl::StatusOr<LossStats> stats = (*model)->Forward(params, records);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("example 1 of the batch: label 3, want < 3 classes"),
            absl::string_view::npos)
      << stats.status();
}

// Wide enough that the kernels split their work across threads.
std::vector<float> GradientWithThreads(int threads, double* loss) {
  tributary::v1::MlpSpec spec;
  spec.set_inputs(64);
  spec.add_hidden(256);
  spec.set_classes(10);
  auto model = MlpModel::Create(spec, {/*max_batch_examples=*/64, threads});
  std::vector<float> params((*model)->layout().size()), grads(params.size());
  (*model)->InitParams(absl::MakeSpan(params), 8);
  *loss = (*model)->ForwardBackward(params, RandomRecords(64, 64, 10, 9), absl::MakeSpan(grads)).value().loss_sum;
  return grads;
}

TEST(MlpTest, ThreadsAgreeWithOneAndAreDeterministic) {
  double serial_loss = 0, threaded_loss = 0, again_loss = 0;
  const std::vector<float> serial = GradientWithThreads(1, &serial_loss);
  const std::vector<float> threaded = GradientWithThreads(3, &threaded_loss);
  EXPECT_NEAR(threaded_loss, serial_loss, 1e-6 * serial_loss);
  for (size_t i = 0; i < serial.size(); ++i) {
    ASSERT_NEAR(threaded[i], serial[i], 1e-5 + 1e-4 * std::abs(serial[i])) << "parameter " << i;
  }
  EXPECT_EQ(GradientWithThreads(3, &again_loss), threaded);
  EXPECT_EQ(again_loss, threaded_loss);
}

TEST(MlpTest, InitIsDeterministicPerSeed) {
  auto model = MlpModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> a((*model)->layout().size()), b(a.size()), c(a.size());
  (*model)->InitParams(absl::MakeSpan(a), 5);
  (*model)->InitParams(absl::MakeSpan(b), 5);
  (*model)->InitParams(absl::MakeSpan(c), 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) EXPECT_LE(std::abs(v), 1.0f / std::sqrt(4.0f));
}

TEST(MlpTest, RejectsBadSizes) {
  tributary::v1::MlpSpec spec = TinySpec();
  spec.set_classes(1);
  EXPECT_FALSE(MlpModel::Create(spec).ok());
  spec = TinySpec();
  spec.add_hidden(0);
  EXPECT_FALSE(MlpModel::Create(spec).ok());
}

}  // namespace
}  // namespace tributary
