// A multilayer perceptron classifier: fully connected layers with ReLU
// between them and softmax cross-entropy on the last.
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
#include "common/models/model.h"

namespace tributary {

class MlpModel : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<MlpModel>> Create(const tributary::v1::MlpSpec& spec);

  const ParamLayout& layout() const override { return layout_; }
  int64_t example_bytes() const override { return widths_.front() + 1; }
  void InitParams(absl::Span<float> params, uint64_t seed) const override;
  LossStats Forward(absl::Span<const float> params, absl::Span<const uint8_t> examples) override;
  LossStats ForwardBackward(absl::Span<const float> params, absl::Span<const uint8_t> examples,
                            absl::Span<float> grads) override;

 private:
  explicit MlpModel(std::vector<int> widths);

  int num_layers() const { return static_cast<int>(widths_.size()) - 1; }
  // Grows the activation arena to hold `batch` rows; a no-op once it has.
  void Reserve(int batch);
  // Fills input_ and labels_ from the records; returns the batch size.
  int LoadBatch(absl::Span<const uint8_t> examples);
  LossStats RunForward(absl::Span<const float> params, int batch);
  void RunBackward(absl::Span<const float> params, int batch, absl::Span<float> grads);

  std::vector<int> widths_;  // inputs, hidden..., classes
  ParamLayout layout_;
  // Activation arena, `capacity_` rows each.
  int capacity_ = 0;
  RowMatrix input_;               // (B, I0)
  std::vector<int> labels_;       // (B)
  std::vector<RowMatrix> pre_;    // pre_[l]: (B, O_l) before ReLU; the last holds logits
  std::vector<RowMatrix> post_;   // post_[l]: (B, O_l) after ReLU; the last holds softmax
  RowMatrix grad_out_, grad_in_;  // (B, max width) scratch for backward
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_MLP_H_
