// GPT-2 over bytes, built from the layers in layers.h.
//
// Example record: context + 1 bytes; the model reads the first `context`
// and predicts each next byte. The loss is the mean cross-entropy per
// token (nats/byte); LossStats::correct is not counted (0).
//
// Tensors, in layout order and with GPT-2's names:
//   wte.weight (V, C)  wpe.weight (T, C)
//   for l in 0..L-1:  h.l.ln_1.{weight,bias} (C)
//                     h.l.attn.c_attn.weight (3C, C)  .bias (3C)
//                     h.l.attn.c_proj.weight (C, C)   .bias (C)
//                     h.l.ln_2.{weight,bias} (C)
//                     h.l.mlp.c_fc.weight (4C, C)     .bias (4C)
//                     h.l.mlp.c_proj.weight (C, 4C)   .bias (C)
//   ln_f.{weight,bias} (C)
// Weights are (out, in), as torch.nn.Linear stores them.
#ifndef TRIBUTARY_COMMON_MODELS_GPT_H_
#define TRIBUTARY_COMMON_MODELS_GPT_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/models/arena.h"
#include "common/models/model.h"

namespace tributary {

class GptModel : public Model {
 public:
  static constexpr int kVocab = 256;

  static absl::StatusOr<std::unique_ptr<GptModel>> Create(const tributary::v1::GptSpec& spec,
                                                          const ModelOptions& options = {});

  const ParamLayout& layout() const override { return layout_; }
  int64_t example_bytes() const override { return T_ + 1; }
  int max_batch_examples() const override { return max_batch_; }
  void InitParams(absl::Span<float> params, uint64_t seed) const override;
  absl::StatusOr<LossStats> Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) override;
  absl::StatusOr<LossStats> ForwardBackward(absl::Span<const float> params, absl::Span<const uint8_t> examples,
                                            absl::Span<float> grads) override;

  int context() const { return T_; }
  // Bytes of the activation arena and of its gradients, as allocated at
  // construction for max_batch_examples().
  int64_t arena_bytes() const {
    return static_cast<int64_t>(acts_arena_.size() + grads_arena_.size()) * sizeof(float);
  }
  // The next-byte logits after `context` (1 to context() bytes) into
  // `logits` (kVocab floats). FAILED_PRECONDITION for a model built for
  // no batch (max_batch_examples 0), INVALID_ARGUMENT for a context of
  // another length.
  absl::Status NextByteLogits(absl::Span<const float> params, absl::Span<const uint8_t> context,
                              absl::Span<float> logits);

 private:
  // Indexes of one block's tensors in the layout.
  struct BlockTensors {
    int ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b;
  };
  // Views of one activation arena (or of the arena of their gradients).
  struct Acts {
    float* encoded;                       // (B, T, C)
    std::vector<float*> ln1, qkv, atty, att, attproj, res2, ln2, fch, fch_gelu, fcproj, res3;
    std::vector<float*> ln1_mean, ln1_rstd, ln2_mean, ln2_rstd;
    float* lnf;                           // (B, T, C)
    float* lnf_mean;                      // (B, T)
    float* lnf_rstd;
    float* logits;                        // (B, T, V)
    float* probs;                         // (B, T, V)
    float* losses;                        // (B, T)
  };

  GptModel(int layers, int heads, int channels, int context, const ModelOptions& options);

  int64_t ArenaFloats(int batch) const;
  Acts Bind(float* base, int batch) const;
  // Splits records into inputs_ and targets_; returns the batch size.
  absl::StatusOr<int> LoadBatch(absl::Span<const uint8_t> examples);
  // The forward pass over `batch` sequences of `T` <= T_ tokens in
  // inputs_, up to the logits.
  void ForwardToLogits(absl::Span<const float> params, int batch, int T);
  LossStats RunForward(absl::Span<const float> params, int batch);
  void RunBackward(absl::Span<const float> params, int batch, absl::Span<float> grads);
  const float* P(absl::Span<const float> params, int index) const {
    return params.data() + layout_.tensor(index).offset;
  }
  float* G(absl::Span<float> grads, int index) const { return grads.data() + layout_.tensor(index).offset; }

  const int L_, NH_, C_, T_;
  const int max_batch_, threads_;
  ParamLayout layout_;
  int wte_, wpe_, lnf_w_, lnf_b_;
  std::vector<BlockTensors> blocks_;

  // Sized for max_batch_ sequences at construction. The views are laid out
  // for max_batch_ x T_; a smaller batch or a shorter sequence uses the
  // front of each tensor.
  std::vector<uint8_t> inputs_, targets_;  // (B, T)
  ArenaVector acts_arena_, grads_arena_;
  Acts acts_{}, grads_{};
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_GPT_H_
