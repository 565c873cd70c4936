#include "common/models/mlp.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/models/layers.h"

namespace tributary {
namespace {

constexpr int kMaxWidth = 1 << 16;
constexpr int kMaxLayers = 16;

int WeightIndex(int layer) { return 2 * layer; }
int BiasIndex(int layer) { return 2 * layer + 1; }

}  // namespace

absl::StatusOr<std::unique_ptr<MlpModel>> MlpModel::Create(const tributary::v1::MlpSpec& spec,
                                                           const ModelOptions& options) {
  if (absl::Status s = CheckModelOptions(options); !s.ok()) return s;
  std::vector<int> widths = {spec.inputs()};
  if (spec.hidden_size() == 0) {
    widths.push_back(256);
  } else {
    widths.insert(widths.end(), spec.hidden().begin(), spec.hidden().end());
  }
  widths.push_back(spec.classes());
  if (static_cast<int>(widths.size()) - 1 > kMaxLayers) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.mlp.hidden: at most ", kMaxLayers - 1, " layers, got ", spec.hidden_size()));
  }
  for (int w : widths) {
    if (w < 1 || w > kMaxWidth) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.mlp: layer widths must be in [1, ", kMaxWidth, "], got ", w));
    }
  }
  if (spec.classes() < 2 || spec.classes() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.mlp.classes: must be in [2, 256] (labels are bytes), got ", spec.classes()));
  }
  return std::unique_ptr<MlpModel>(new MlpModel(std::move(widths), options));
}

MlpModel::MlpModel(std::vector<int> widths, const ModelOptions& options)
    : widths_(std::move(widths)),
      max_batch_(options.max_batch_examples),
      threads_(options.threads),
      labels_(max_batch_),
      acts_arena_(ArenaFloats(/*gradients=*/false)),
      grads_arena_(ArenaFloats(/*gradients=*/true)) {
  for (int l = 0; l < num_layers(); ++l) {
    layout_.Add(absl::StrCat("fc", l, ".weight"), {widths_[l + 1], widths_[l]});
    layout_.Add(absl::StrCat("fc", l, ".bias"), {widths_[l + 1]});
  }
  acts_ = Bind(acts_arena_, /*gradients=*/false);
  grads_ = Bind(grads_arena_, /*gradients=*/true);
}

void MlpModel::InitParams(absl::Span<float> params, uint64_t seed) const {
  // PyTorch's nn.Linear default: U(-1/sqrt(I), 1/sqrt(I)) for weights and biases.
  std::mt19937_64 rng(seed);
  for (int l = 0; l < num_layers(); ++l) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(widths_[l]));
    std::uniform_real_distribution<float> dist(-bound, bound);
    for (int index : {WeightIndex(l), BiasIndex(l)}) {
      for (float& v : layout_.Vector(params, index)) v = dist(rng);
    }
  }
}

template <typename Visit>
void MlpModel::VisitActs(Acts& acts, bool gradients, Visit visit) const {
  const int64_t B = max_batch_;
  acts.pre.resize(num_layers());
  acts.post.resize(num_layers() - 1);
  if (!gradients) visit(&acts.input, B * widths_[0]);
  for (int l = 0; l < num_layers(); ++l) {
    visit(&acts.pre[l], B * widths_[l + 1]);
    if (l + 1 < num_layers()) visit(&acts.post[l], B * widths_[l + 1]);
  }
  if (!gradients) {
    visit(&acts.probs, B * widths_.back());
    visit(&acts.losses, B);
  }
}

int64_t MlpModel::ArenaFloats(bool gradients) const {
  Acts scratch;
  int64_t total = 0;
  VisitActs(scratch, gradients, [&](float**, int64_t n) { total += PaddedFloats(n); });
  return total;
}

MlpModel::Acts MlpModel::Bind(ArenaVector& arena, bool gradients) const {
  Acts acts;
  float* next = arena.data();
  VisitActs(acts, gradients, [&](float** view, int64_t n) {
    *view = next;
    next += PaddedFloats(n);
  });
  return acts;
}

absl::StatusOr<int> MlpModel::LoadBatch(absl::Span<const uint8_t> examples) {
  absl::StatusOr<int> size = BatchSize(examples);
  if (!size.ok()) return size.status();
  const int batch = *size, inputs = widths_[0], classes = widths_.back();
  const int64_t record = example_bytes();
  for (int b = 0; b < batch; ++b) {
    const uint8_t* r = examples.data() + b * record;
    if (r[inputs] >= classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("example ", b, " of the batch: label ", int{r[inputs]}, ", want < ", classes, " classes"));
    }
    float* x = acts_.input + b * inputs;
    for (int i = 0; i < inputs; ++i) x[i] = r[i] * (1.0f / 255.0f);
    labels_[b] = r[inputs];
  }
  return batch;
}

// For each layer l: pre[l] = in W^T + b, post[l] = ReLU(pre[l]) for the
// hidden ones; the last pre is the logits, and the loss their softmax
// cross-entropy against the labels.
LossStats MlpModel::RunForward(absl::Span<const float> params, int B) {
  using namespace layers;
  const Acts& a = acts_;
  for (int l = 0; l < num_layers(); ++l) {
    const float* in = l == 0 ? a.input : a.post[l - 1];
    const int I = widths_[l], O = widths_[l + 1];
    MatmulForward(threads_, a.pre[l], in, P(params, WeightIndex(l)), P(params, BiasIndex(l)), B, I, O);
    if (l + 1 < num_layers()) ReluForward(threads_, a.post[l], a.pre[l], int64_t{B} * O);
  }
  const int K = widths_.back();
  const float* logits = a.pre.back();
  CrossEntropyForward(threads_, a.probs, a.losses, logits, labels_.data(), B, K);
  LossStats stats;
  stats.examples = B;
  for (int b = 0; b < B; ++b) {
    stats.loss_sum += a.losses[b];
    const float* row = logits + int64_t{b} * K;
    stats.correct += std::max_element(row, row + K) - row == labels_[b];
  }
  return stats;
}

// The forward pass in reverse. Backward functions accumulate, so the
// gradients and the used front of each activation gradient start at zero;
// no gradient flows into the input.
void MlpModel::RunBackward(absl::Span<const float> params, int B, absl::Span<float> grads) {
  using namespace layers;
  std::fill(grads.begin(), grads.end(), 0.0f);
  const Acts& a = acts_;
  const Acts& d = grads_;
  for (int l = 0; l + 1 < num_layers(); ++l) {
    std::fill_n(d.pre[l], int64_t{B} * widths_[l + 1], 0.0f);
    std::fill_n(d.post[l], int64_t{B} * widths_[l + 1], 0.0f);
  }
  CrossEntropyBackward(threads_, d.pre.back(), a.probs, labels_.data(), 1.0f / B, B, widths_.back());
  for (int l = num_layers() - 1; l >= 0; --l) {
    const float* in = l == 0 ? a.input : a.post[l - 1];
    float* din = l == 0 ? nullptr : d.post[l - 1];
    const int I = widths_[l], O = widths_[l + 1];
    MatmulBackward(threads_, din, G(grads, WeightIndex(l)), G(grads, BiasIndex(l)), d.pre[l], in,
                   P(params, WeightIndex(l)), B, I, O);
    if (l > 0) ReluBackward(threads_, d.pre[l - 1], a.pre[l - 1], d.post[l - 1], int64_t{B} * I);
  }
}

absl::StatusOr<LossStats> MlpModel::Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) {
  absl::StatusOr<int> batch = LoadBatch(examples);
  if (!batch.ok()) return batch.status();
  return RunForward(params, *batch);
}

absl::StatusOr<LossStats> MlpModel::ForwardBackward(absl::Span<const float> params,
                                                    absl::Span<const uint8_t> examples, absl::Span<float> grads) {
  absl::StatusOr<int> batch = LoadBatch(examples);
  if (!batch.ok()) return batch.status();
  LossStats stats = RunForward(params, *batch);
  if (*batch > 0) RunBackward(params, *batch, grads);
  return stats;
}

}  // namespace tributary
