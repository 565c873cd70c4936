// A multilayer perceptron classifier: fully connected layers with ReLU
// between them and softmax cross-entropy on the last, built from the
// layers in layers.h.
//
// Example record: `inputs` bytes (pixels, scaled to [0, 1]) then one label
// byte. Tensors, in layout order, for each layer l = 0..L-1:
//   fc{l}.weight (O, I)   fc{l}.bias (O)
// Shape letters: B batch, I layer inputs, O layer outputs, K classes.
#ifndef TRIBUTARY_COMMON_MODELS_MLP_H_
#define TRIBUTARY_COMMON_MODELS_MLP_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/models/arena.h"
#include "common/models/model.h"

namespace tributary {

class MlpModel : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<MlpModel>> Create(const tributary::v1::MlpSpec& spec,
                                                          const ModelOptions& options = {});

  const ParamLayout& layout() const override { return layout_; }
  int64_t example_bytes() const override { return widths_.front() + 1; }
  int max_batch_examples() const override { return max_batch_; }
  void InitParams(absl::Span<float> params, uint64_t seed) const override;
  absl::StatusOr<LossStats> Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) override;
  absl::StatusOr<LossStats> ForwardBackward(absl::Span<const float> params, absl::Span<const uint8_t> examples,
                                            absl::Span<float> grads) override;

 private:
  // Views of the activation arena, laid out for max_batch_ rows; a smaller
  // batch uses the front of each tensor. The gradient arena holds only
  // `pre` and `post` (no gradient flows into the input).
  struct Acts {
    float* input = nullptr;   // (B, I0), the pixels scaled to [0, 1]
    std::vector<float*> pre;  // pre[l]: (B, O_l) before ReLU; the last holds the logits
    std::vector<float*> post; // post[l]: (B, O_l) after ReLU, hidden layers only
    float* probs = nullptr;   // (B, K)
    float* losses = nullptr;  // (B)
  };

  MlpModel(std::vector<int> widths, const ModelOptions& options);

  int num_layers() const { return static_cast<int>(widths_.size()) - 1; }
  // Calls visit(&view, floats) for every tensor of an arena in order.
  template <typename Visit>
  void VisitActs(Acts& acts, bool gradients, Visit visit) const;
  int64_t ArenaFloats(bool gradients) const;
  Acts Bind(ArenaVector& arena, bool gradients) const;
  // Fills input and labels_ from the records; returns the batch size.
  absl::StatusOr<int> LoadBatch(absl::Span<const uint8_t> examples);
  LossStats RunForward(absl::Span<const float> params, int batch);
  void RunBackward(absl::Span<const float> params, int batch, absl::Span<float> grads);
  const float* P(absl::Span<const float> params, int index) const {
    return params.data() + layout_.tensor(index).offset;
  }
  float* G(absl::Span<float> grads, int index) const { return grads.data() + layout_.tensor(index).offset; }

  std::vector<int> widths_;  // inputs, hidden..., classes
  const int max_batch_, threads_;
  ParamLayout layout_;
  std::vector<uint8_t> labels_;  // (B)
  ArenaVector acts_arena_, grads_arena_;
  Acts acts_, grads_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_MLP_H_
