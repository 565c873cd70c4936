#include "common/models/gpt.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/models/test_specs.h"

namespace tributary {
namespace {

tributary::v1::GptSpec TinySpec() { return TestGptSpec(2, 2, 8, 4); }
// Room for the largest batch below.
constexpr ModelOptions kOptions{/*max_batch_examples=*/8, /*threads=*/1};

std::vector<uint8_t> RandomRecords(int n, int bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> records(static_cast<size_t>(n) * bytes);
  for (uint8_t& b : records) b = rng() % 256;
  return records;
}

TEST(GptTest, LayoutHasGpt2NamesAndSizes) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok()) << model.status();
  const ParamLayout& layout = (*model)->layout();
  const int64_t V = 256, T = 4, C = 8, L = 2;
  EXPECT_EQ(layout.size(), V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C);
  EXPECT_EQ(layout.tensor(0).name, "wte.weight");
  EXPECT_EQ(layout.tensor(1).name, "wpe.weight");
  EXPECT_EQ(layout.tensor(4).name, "h.0.attn.c_attn.weight");
  EXPECT_EQ(layout.tensor(4).shape, (std::vector<int64_t>{3 * C, C}));
  EXPECT_EQ(layout.tensors().back().name, "ln_f.bias");
  EXPECT_EQ((*model)->example_bytes(), 5);
}

TEST(GptTest, RejectsBadSizes) {
  tributary::v1::GptSpec spec = TinySpec();
  spec.set_heads(3);
  EXPECT_FALSE(GptModel::Create(spec).ok());
  spec = TinySpec();
  spec.set_context(0);
  EXPECT_FALSE(GptModel::Create(spec).ok());
}

TEST(GptTest, InitialLossIsAboutLn256) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size());
  (*model)->InitParams(absl::MakeSpan(params), 1);
  const LossStats stats = (*model)->Forward(params, RandomRecords(8, 5, 2)).value();
  EXPECT_EQ(stats.examples, 8);
  EXPECT_NEAR(stats.mean_loss(), std::log(256.0), 0.1);
}

// Every parameter's gradient against a central difference of the mean loss,
// at random (not initial) weights so that every path carries signal.
TEST(GptTest, GradientMatchesFiniteDifferences) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  const int64_t n = (*model)->layout().size();
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> params(n);
  for (float& p : params) p = normal(rng);
  const auto records = RandomRecords(3, 5, 3);
  std::vector<float> grads(n);
  (*model)->ForwardBackward(params, records, absl::MakeSpan(grads)).value();

  const float eps = 1e-2f;
  int checked_nonzero = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> plus = params, minus = params;
    plus[i] += eps;
    minus[i] -= eps;
    const double numeric =
        ((*model)->Forward(plus, records).value().mean_loss() - (*model)->Forward(minus, records).value().mean_loss()) / (2 * eps);
    ASSERT_NEAR(grads[i], numeric, 2e-3 + 2e-2 * std::abs(numeric))
        << (*model)->layout().tensors().size() << " tensors; parameter " << i;
    checked_nonzero += std::abs(numeric) > 1e-3;
  }
  EXPECT_GT(checked_nonzero, n / 10) << "the check exercised real gradients";
}

TEST(GptTest, GradientDescentLowersTheLoss) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size()), grads(params.size());
  (*model)->InitParams(absl::MakeSpan(params), 1);
  const auto records = RandomRecords(2, 5, 4);
  const double initial = (*model)->Forward(params, records).value().mean_loss();
  for (int step = 0; step < 100; ++step) {
    (*model)->ForwardBackward(params, records, absl::MakeSpan(grads)).value();
    for (size_t i = 0; i < params.size(); ++i) params[i] -= 0.5f * grads[i];
  }
  EXPECT_LT((*model)->Forward(params, records).value().mean_loss(), 0.5 * initial);
}

TEST(GptTest, BatchSizeMayChangeWithoutChangingResults) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size());
  (*model)->InitParams(absl::MakeSpan(params), 5);
  const auto big = RandomRecords(6, 5, 6);
  const std::vector<uint8_t> small(big.begin(), big.begin() + 10);
  const double first = (*model)->Forward(params, small).value().loss_sum;
  (*model)->Forward(params, big).value();
  EXPECT_DOUBLE_EQ((*model)->Forward(params, small).value().loss_sum, first);
}

TEST(GptTest, ActivationsAreSizedAtConstruction) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  const int64_t bytes = (*model)->arena_bytes();
  EXPECT_GT(bytes, 0);
  std::vector<float> params((*model)->layout().size()), grads(params.size());
  (*model)->InitParams(absl::MakeSpan(params), 5);
  ASSERT_TRUE((*model)->ForwardBackward(params, RandomRecords(8, 5, 7), absl::MakeSpan(grads)).ok());
  EXPECT_EQ((*model)->arena_bytes(), bytes);
  EXPECT_EQ((*GptModel::Create(TinySpec()))->arena_bytes(), 0) << "a model for its layout only has no arena";
}

TEST(GptTest, ABatchLargerThanBuiltForIsAnError) {
  auto model = GptModel::Create(TinySpec(), kOptions);
  ASSERT_TRUE(model.ok());
  std::vector<float> params((*model)->layout().size()), grads(params.size());
  const auto records = RandomRecords(9, 5, 8);
  const absl::StatusOr<LossStats> stats = (*model)->ForwardBackward(params, records, absl::MakeSpan(grads));
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("batch of 9 examples exceeds the 8"), absl::string_view::npos)
      << stats.status();
  EXPECT_EQ((*model)->Forward(params, absl::MakeConstSpan(records).subspan(1)).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "not whole records";
}

TEST(GptTest, RejectsBadOptions) {
  EXPECT_FALSE(GptModel::Create(TinySpec(), {/*max_batch_examples=*/-1, 1}).ok());
  EXPECT_FALSE(GptModel::Create(TinySpec(), {kMaxBatchExamples + 1, 1}).ok());
  EXPECT_FALSE(GptModel::Create(TinySpec(), {8, /*threads=*/0}).ok());
}

// Large enough that every kernel splits its work across threads.
tributary::v1::GptSpec ThreadedSpec() { return TestGptSpec(2, 2, 64, 32); }

struct Result {
  double loss;
  std::vector<float> grads;
};

// `shift` floats into their buffers, params and gradients sit at another
// alignment; results must not depend on where memory is.
Result GradientWithThreads(int threads, int shift = 0) {
  auto model = GptModel::Create(ThreadedSpec(), {/*max_batch_examples=*/8, threads});
  const int64_t n = (*model)->layout().size();
  std::vector<float> params_buffer(n + shift), grads_buffer(n + shift);
  const absl::Span<float> params = absl::MakeSpan(params_buffer).subspan(shift);
  const absl::Span<float> grads = absl::MakeSpan(grads_buffer).subspan(shift);
  (*model)->InitParams(params, 11);
  const double loss = (*model)->ForwardBackward(params, RandomRecords(8, 33, 12), grads).value().mean_loss();
  return {loss, std::vector<float>(grads.begin(), grads.end())};
}

// The threaded kernels compute what the serial ones (checked above against
// finite differences and PyTorch) compute.
TEST(GptThreadsTest, TwoThreadsAgreeWithOne) {
  const Result serial = GradientWithThreads(1);
  const Result threaded = GradientWithThreads(2);
  EXPECT_NEAR(threaded.loss, serial.loss, 1e-6 * serial.loss);
  double worst = 0, largest = 0;
  for (size_t i = 0; i < serial.grads.size(); ++i) {
    worst = std::max(worst, double{std::abs(threaded.grads[i] - serial.grads[i])});
    largest = std::max(largest, double{std::abs(serial.grads[i])});
  }
  EXPECT_GT(largest, 0);
  EXPECT_LE(worst, 1e-4 * largest);
}

// Same seed, same thread count: the same bits, run after run.
TEST(GptThreadsTest, DeterministicForAThreadCount) {
  const Result first = GradientWithThreads(2);
  const Result second = GradientWithThreads(2, /*shift=*/3);
  EXPECT_EQ(first.loss, second.loss);
  EXPECT_EQ(first.grads, second.grads);
}

}  // namespace
}  // namespace tributary
