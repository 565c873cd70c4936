#include "common/models/mlp.h"

#include <cmath>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary {
namespace {

constexpr int kMaxWidth = 1 << 16;
constexpr int kMaxLayers = 16;

int WeightIndex(int layer) { return 2 * layer; }
int BiasIndex(int layer) { return 2 * layer + 1; }

}  // namespace

absl::StatusOr<std::unique_ptr<MlpModel>> MlpModel::Create(const tributary::v1::MlpSpec& spec) {
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
  return std::unique_ptr<MlpModel>(new MlpModel(std::move(widths)));
}

MlpModel::MlpModel(std::vector<int> widths) : widths_(std::move(widths)) {
  for (int l = 0; l < num_layers(); ++l) {
    layout_.Add(absl::StrCat("fc", l, ".weight"), {widths_[l + 1], widths_[l]});
    layout_.Add(absl::StrCat("fc", l, ".bias"), {widths_[l + 1]});
  }
  pre_.resize(num_layers());
  post_.resize(num_layers());
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

void MlpModel::Reserve(int batch) {
  if (batch <= capacity_) return;
  capacity_ = batch;
  int max_width = 0;
  for (int w : widths_) max_width = std::max(max_width, w);
  input_.resize(batch, widths_[0]);
  labels_.resize(batch);
  for (int l = 0; l < num_layers(); ++l) {
    pre_[l].resize(batch, widths_[l + 1]);
    post_[l].resize(batch, widths_[l + 1]);
  }
  grad_out_.resize(batch, max_width);
  grad_in_.resize(batch, max_width);
}

int MlpModel::LoadBatch(absl::Span<const uint8_t> examples) {
  const int64_t record = example_bytes();
  const int batch = static_cast<int>(examples.size() / record);
  Reserve(batch);
  const int inputs = widths_[0];
  for (int b = 0; b < batch; ++b) {
    const uint8_t* r = examples.data() + b * record;
    for (int i = 0; i < inputs; ++i) input_(b, i) = r[i] * (1.0f / 255.0f);
    labels_[b] = r[inputs];
  }
  return batch;
}

// Forward: for each layer Z = A_prev W^T + b (B, O); A = ReLU(Z) for hidden
// layers, softmax(Z) for the last. Loss = -log softmax(Z)[label].
LossStats MlpModel::RunForward(absl::Span<const float> params, int batch) {
  for (int l = 0; l < num_layers(); ++l) {
    auto in = l == 0 ? input_.topRows(batch) : post_[l - 1].topRows(batch);
    auto z = pre_[l].topRows(batch);
    z.noalias() = in * layout_.Matrix(params, WeightIndex(l)).transpose();
    z.rowwise() += layout_.Vector(params, BiasIndex(l)).transpose();
    if (l + 1 < num_layers()) post_[l].topRows(batch) = z.cwiseMax(0.0f);
  }
  LossStats stats;
  stats.examples = batch;
  const int classes = widths_.back();
  const RowMatrix& logits = pre_.back();
  RowMatrix& probs = post_.back();
  for (int b = 0; b < batch; ++b) {
    Eigen::Index argmax = 0;
    const float max_logit = logits.row(b).maxCoeff(&argmax);
    probs.row(b) = (logits.row(b).array() - max_logit).exp();
    const float sum = probs.row(b).sum();
    probs.row(b) /= sum;
    const int label = labels_[b];
    if (label >= classes) {
      // Out-of-range labels never reach here from a validated dataset; count
      // them as wrong with the maximal loss rather than read out of bounds.
      stats.loss_sum += std::log(static_cast<double>(classes));
      continue;
    }
    stats.loss_sum += std::log(static_cast<double>(sum)) - (logits(b, label) - max_logit);
    stats.correct += argmax == label;
  }
  return stats;
}

// Backward: dZ_last = (P - onehot) / B; for each layer
//   dW = dZ^T A_prev (O, I), db = sum_b dZ (O), dA_prev = dZ W (B, I),
//   dZ_prev = dA_prev * [Z_prev > 0].
void MlpModel::RunBackward(absl::Span<const float> params, int batch, absl::Span<float> grads) {
  const int classes = widths_.back();
  auto dz = grad_out_.topLeftCorner(batch, classes);
  dz = post_.back().topRows(batch);
  for (int b = 0; b < batch; ++b) {
    if (labels_[b] < classes) dz(b, labels_[b]) -= 1.0f;
  }
  dz *= 1.0f / batch;
  for (int l = num_layers() - 1; l >= 0; --l) {
    const int outs = widths_[l + 1], ins = widths_[l];
    auto dz_l = grad_out_.topLeftCorner(batch, outs);
    auto in = l == 0 ? input_.topRows(batch) : post_[l - 1].topRows(batch);
    layout_.Matrix(grads, WeightIndex(l)).noalias() = dz_l.transpose() * in;
    layout_.Vector(grads, BiasIndex(l)) = dz_l.colwise().sum().transpose();
    if (l == 0) break;
    auto da = grad_in_.topLeftCorner(batch, ins);
    da.noalias() = dz_l * layout_.Matrix(params, WeightIndex(l));
    grad_out_.topLeftCorner(batch, ins) =
        (pre_[l - 1].topRows(batch).array() > 0.0f).select(da, 0.0f);
  }
}

LossStats MlpModel::Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) {
  return RunForward(params, LoadBatch(examples));
}

LossStats MlpModel::ForwardBackward(absl::Span<const float> params,
                                    absl::Span<const uint8_t> examples, absl::Span<float> grads) {
  const int batch = LoadBatch(examples);
  LossStats stats = RunForward(params, batch);
  if (batch > 0) RunBackward(params, batch, grads);
  return stats;
}

}  // namespace tributary
