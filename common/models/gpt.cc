#include "common/models/gpt.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/models/layers.h"

namespace tributary {
namespace {

constexpr int kMaxLayers = 64;
constexpr int kMaxChannels = 4096;
constexpr int kMaxContext = 4096;
constexpr float kInitStd = 0.02f;

}  // namespace

absl::StatusOr<std::unique_ptr<GptModel>> GptModel::Create(const tributary::v1::GptSpec& spec,
                                                           const ModelOptions& options) {
  if (absl::Status s = CheckModelOptions(options); !s.ok()) return s;
  if (spec.layers() < 1 || spec.layers() > kMaxLayers) {
    return absl::InvalidArgumentError(absl::StrCat("model.gpt.layers: must be in [1, ", kMaxLayers, "], got ", spec.layers()));
  }
  if (spec.channels() < 1 || spec.channels() > kMaxChannels) {
    return absl::InvalidArgumentError(absl::StrCat("model.gpt.channels: must be in [1, ", kMaxChannels, "], got ", spec.channels()));
  }
  if (spec.heads() < 1 || spec.channels() % spec.heads() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model.gpt.heads: must divide channels (", spec.channels(), "), got ", spec.heads()));
  }
  if (spec.context() < 1 || spec.context() > kMaxContext) {
    return absl::InvalidArgumentError(absl::StrCat("model.gpt.context: must be in [1, ", kMaxContext, "], got ", spec.context()));
  }
  return std::unique_ptr<GptModel>(
      new GptModel(spec.layers(), spec.heads(), spec.channels(), spec.context(), options));
}

GptModel::GptModel(int layers, int heads, int channels, int context, const ModelOptions& options)
    : L_(layers),
      NH_(heads),
      C_(channels),
      T_(context),
      max_batch_(options.max_batch_examples),
      threads_(options.threads),
      inputs_(static_cast<size_t>(max_batch_) * T_),
      targets_(inputs_.size()),
      acts_arena_(ArenaFloats(max_batch_)),
      grads_arena_(acts_arena_.size()) {
  acts_ = Bind(acts_arena_.data(), max_batch_);
  grads_ = Bind(grads_arena_.data(), max_batch_);
  const int64_t C = C_;
  wte_ = layout_.Add("wte.weight", {kVocab, C});
  wpe_ = layout_.Add("wpe.weight", {T_, C});
  for (int l = 0; l < L_; ++l) {
    const std::string h = absl::StrCat("h.", l, ".");
    BlockTensors b;
    b.ln1_w = layout_.Add(h + "ln_1.weight", {C});
    b.ln1_b = layout_.Add(h + "ln_1.bias", {C});
    b.attn_w = layout_.Add(h + "attn.c_attn.weight", {3 * C, C});
    b.attn_b = layout_.Add(h + "attn.c_attn.bias", {3 * C});
    b.proj_w = layout_.Add(h + "attn.c_proj.weight", {C, C});
    b.proj_b = layout_.Add(h + "attn.c_proj.bias", {C});
    b.ln2_w = layout_.Add(h + "ln_2.weight", {C});
    b.ln2_b = layout_.Add(h + "ln_2.bias", {C});
    b.fc_w = layout_.Add(h + "mlp.c_fc.weight", {4 * C, C});
    b.fc_b = layout_.Add(h + "mlp.c_fc.bias", {4 * C});
    b.fcproj_w = layout_.Add(h + "mlp.c_proj.weight", {C, 4 * C});
    b.fcproj_b = layout_.Add(h + "mlp.c_proj.bias", {C});
    blocks_.push_back(b);
  }
  lnf_w_ = layout_.Add("ln_f.weight", {C});
  lnf_b_ = layout_.Add("ln_f.bias", {C});
}

// GPT-2's initialisation: N(0, 0.02) weights, residual projections scaled
// by 1/sqrt(2L), zero biases, unit LayerNorm gains.
void GptModel::InitParams(absl::Span<float> params, uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, kInitStd);
  const float residual_scale = 1.0f / std::sqrt(2.0f * L_);
  for (size_t i = 0; i < layout_.tensors().size(); ++i) {
    const TensorSpec& t = layout_.tensor(i);
    auto values = layout_.Vector(params, i);
    const bool gain = t.name.find("ln_") != std::string::npos && t.name.find("weight") != std::string::npos;
    const bool bias = t.name.find("bias") != std::string::npos;
    const bool residual = t.name.find("c_proj.weight") != std::string::npos;
    for (float& v : values) {
      v = gain ? 1.0f : bias ? 0.0f : normal(rng) * (residual ? residual_scale : 1.0f);
    }
  }
}

// Visits every activation tensor in arena order: visit(slot, floats).
template <typename Acts, typename Visit>
void VisitActs(Acts& a, int L, int64_t B, int64_t T, int64_t C, int64_t NH, int64_t V, Visit visit) {
  const int64_t N = B * T;
  for (auto* list : {&a.ln1, &a.qkv, &a.atty, &a.att, &a.attproj, &a.res2, &a.ln2, &a.fch,
                     &a.fch_gelu, &a.fcproj, &a.res3, &a.ln1_mean, &a.ln1_rstd, &a.ln2_mean,
                     &a.ln2_rstd}) {
    list->resize(L);
  }
  visit(&a.encoded, N * C);
  for (int l = 0; l < L; ++l) {
    visit(&a.ln1[l], N * C);
    visit(&a.ln1_mean[l], N);
    visit(&a.ln1_rstd[l], N);
    visit(&a.qkv[l], N * 3 * C);
    visit(&a.att[l], B * NH * T * T);
    visit(&a.atty[l], N * C);
    visit(&a.attproj[l], N * C);
    visit(&a.res2[l], N * C);
    visit(&a.ln2[l], N * C);
    visit(&a.ln2_mean[l], N);
    visit(&a.ln2_rstd[l], N);
    visit(&a.fch[l], N * 4 * C);
    visit(&a.fch_gelu[l], N * 4 * C);
    visit(&a.fcproj[l], N * C);
    visit(&a.res3[l], N * C);
  }
  visit(&a.lnf, N * C);
  visit(&a.lnf_mean, N);
  visit(&a.lnf_rstd, N);
  visit(&a.logits, N * V);
  visit(&a.probs, N * V);
  visit(&a.losses, N);
}

int64_t GptModel::ArenaFloats(int batch) const {
  Acts scratch{};
  int64_t total = 0;
  VisitActs(scratch, L_, batch, T_, C_, NH_, kVocab, [&](float**, int64_t n) { total += PaddedFloats(n); });
  return total;
}

GptModel::Acts GptModel::Bind(float* base, int batch) const {
  Acts acts{};
  float* next = base;
  VisitActs(acts, L_, batch, T_, C_, NH_, kVocab, [&](float** slot, int64_t n) {
    *slot = next;
    next += PaddedFloats(n);
  });
  return acts;
}

absl::StatusOr<int> GptModel::LoadBatch(absl::Span<const uint8_t> examples) {
  absl::StatusOr<int> size = BatchSize(examples);
  if (!size.ok()) return size.status();
  const int batch = *size;
  for (int b = 0; b < batch; ++b) {
    const uint8_t* record = examples.data() + static_cast<int64_t>(b) * example_bytes();
    std::copy_n(record, T_, inputs_.data() + static_cast<int64_t>(b) * T_);
    std::copy_n(record + 1, T_, targets_.data() + static_cast<int64_t>(b) * T_);
  }
  return batch;
}

// Sequences shorter than T_ (sampling) use the front of each tensor: the
// views are laid out for T_, every kernel takes T. So do batches smaller
// than max_batch_.
void GptModel::ForwardToLogits(absl::Span<const float> params, int B, int T) {
  using namespace layers;
  const int N = B * T, C = C_;
  Acts& a = acts_;
  EncoderForward(threads_, a.encoded, inputs_.data(), P(params, wte_), P(params, wpe_), B, T, C);
  const float* residual = a.encoded;
  for (int l = 0; l < L_; ++l) {
    const BlockTensors& w = blocks_[l];
    LayerNormForward(threads_, a.ln1[l], a.ln1_mean[l], a.ln1_rstd[l], residual, P(params, w.ln1_w), P(params, w.ln1_b), N, C);
    MatmulForward(threads_, a.qkv[l], a.ln1[l], P(params, w.attn_w), P(params, w.attn_b), N, C, 3 * C);
    AttentionForward(threads_, a.atty[l], a.att[l], a.qkv[l], B, T, C, NH_);
    MatmulForward(threads_, a.attproj[l], a.atty[l], P(params, w.proj_w), P(params, w.proj_b), N, C, C);
    ResidualForward(threads_, a.res2[l], residual, a.attproj[l], int64_t{N} * C);
    LayerNormForward(threads_, a.ln2[l], a.ln2_mean[l], a.ln2_rstd[l], a.res2[l], P(params, w.ln2_w), P(params, w.ln2_b), N, C);
    MatmulForward(threads_, a.fch[l], a.ln2[l], P(params, w.fc_w), P(params, w.fc_b), N, C, 4 * C);
    GeluForward(threads_, a.fch_gelu[l], a.fch[l], int64_t{N} * 4 * C);
    MatmulForward(threads_, a.fcproj[l], a.fch_gelu[l], P(params, w.fcproj_w), P(params, w.fcproj_b), N, 4 * C, C);
    ResidualForward(threads_, a.res3[l], a.res2[l], a.fcproj[l], int64_t{N} * C);
    residual = a.res3[l];
  }
  LayerNormForward(threads_, a.lnf, a.lnf_mean, a.lnf_rstd, residual, P(params, lnf_w_), P(params, lnf_b_), N, C);
  MatmulForward(threads_, a.logits, a.lnf, P(params, wte_), nullptr, N, C, kVocab);
}

LossStats GptModel::RunForward(absl::Span<const float> params, int B) {
  const int N = B * T_;
  ForwardToLogits(params, B, T_);
  const Acts& a = acts_;
  layers::CrossEntropyForward(threads_, a.probs, a.losses, a.logits, targets_.data(), N, kVocab);
  LossStats stats;
  stats.examples = B;
  double token_loss_sum = 0;
  for (int n = 0; n < N; ++n) token_loss_sum += a.losses[n];
  stats.loss_sum = token_loss_sum / T_;  // Per example: its mean loss per token.
  return stats;
}

// The forward pass in reverse; every backward call accumulates, so the
// gradients and the activation-gradient arena start at zero.
void GptModel::RunBackward(absl::Span<const float> params, int B, absl::Span<float> grads) {
  using namespace layers;
  const int N = B * T_, C = C_;
  std::fill(grads.begin(), grads.end(), 0.0f);
  std::fill(grads_arena_.begin(), grads_arena_.end(), 0.0f);
  const Acts& a = acts_;
  Acts& d = grads_;
  CrossEntropyBackward(threads_, d.logits, a.probs, targets_.data(), 1.0f / N, N, kVocab);
  MatmulBackward(threads_, d.lnf, G(grads, wte_), nullptr, d.logits, a.lnf, P(params, wte_), N, C, kVocab);
  const float* residual = L_ > 0 ? a.res3[L_ - 1] : a.encoded;
  float* dresidual = L_ > 0 ? d.res3[L_ - 1] : d.encoded;
  LayerNormBackward(threads_, dresidual, G(grads, lnf_w_), G(grads, lnf_b_), d.lnf, residual, P(params, lnf_w_), a.lnf_mean, a.lnf_rstd, N, C);
  for (int l = L_ - 1; l >= 0; --l) {
    const BlockTensors& w = blocks_[l];
    residual = l == 0 ? a.encoded : a.res3[l - 1];
    dresidual = l == 0 ? d.encoded : d.res3[l - 1];
    ResidualBackward(threads_, d.res2[l], d.fcproj[l], d.res3[l], int64_t{N} * C);
    MatmulBackward(threads_, d.fch_gelu[l], G(grads, w.fcproj_w), G(grads, w.fcproj_b), d.fcproj[l], a.fch_gelu[l], P(params, w.fcproj_w), N, 4 * C, C);
    GeluBackward(threads_, d.fch[l], a.fch[l], d.fch_gelu[l], int64_t{N} * 4 * C);
    MatmulBackward(threads_, d.ln2[l], G(grads, w.fc_w), G(grads, w.fc_b), d.fch[l], a.ln2[l], P(params, w.fc_w), N, C, 4 * C);
    LayerNormBackward(threads_, d.res2[l], G(grads, w.ln2_w), G(grads, w.ln2_b), d.ln2[l], a.res2[l], P(params, w.ln2_w), a.ln2_mean[l], a.ln2_rstd[l], N, C);
    ResidualBackward(threads_, dresidual, d.attproj[l], d.res2[l], int64_t{N} * C);
    MatmulBackward(threads_, d.atty[l], G(grads, w.proj_w), G(grads, w.proj_b), d.attproj[l], a.atty[l], P(params, w.proj_w), N, C, C);
    AttentionBackward(threads_, d.qkv[l], d.att[l], d.atty[l], a.qkv[l], a.att[l], B, T_, C, NH_);
    MatmulBackward(threads_, d.ln1[l], G(grads, w.attn_w), G(grads, w.attn_b), d.qkv[l], a.ln1[l], P(params, w.attn_w), N, C, 3 * C);
    LayerNormBackward(threads_, dresidual, G(grads, w.ln1_w), G(grads, w.ln1_b), d.ln1[l], residual, P(params, w.ln1_w), a.ln1_mean[l], a.ln1_rstd[l], N, C);
  }
  EncoderBackward(threads_, G(grads, wte_), G(grads, wpe_), d.encoded, inputs_.data(), B, T_, C);
}

absl::Status GptModel::NextByteLogits(absl::Span<const float> params, absl::Span<const uint8_t> context,
                                      absl::Span<float> logits) {
  if (max_batch_ < 1) return absl::FailedPreconditionError("gpt: built for no batch (max_batch_examples 0)");
  const int T = static_cast<int>(context.size());
  if (T < 1 || T > T_) {
    return absl::InvalidArgumentError(absl::StrCat("gpt: context of ", T, " bytes, want 1 to ", T_));
  }
  std::copy(context.begin(), context.end(), inputs_.begin());
  ForwardToLogits(params, 1, T);
  std::copy_n(acts_.logits + static_cast<int64_t>(T - 1) * kVocab, kVocab, logits.begin());
  return absl::OkStatus();
}

absl::StatusOr<LossStats> GptModel::Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) {
  absl::StatusOr<int> batch = LoadBatch(examples);
  if (!batch.ok()) return batch.status();
  return RunForward(params, *batch);
}

absl::StatusOr<LossStats> GptModel::ForwardBackward(absl::Span<const float> params,
                                                    absl::Span<const uint8_t> examples, absl::Span<float> grads) {
  absl::StatusOr<int> batch = LoadBatch(examples);
  if (!batch.ok()) return batch.status();
  LossStats stats = RunForward(params, *batch);
  if (*batch > 0) RunBackward(params, *batch, grads);
  return stats;
}

}  // namespace tributary
