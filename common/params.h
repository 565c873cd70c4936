// Every model keeps all of its parameters in one contiguous float buffer, and
// its gradients in a second buffer of the same layout. Named views map the
// tensors inside; codecs, the aggregator and checkpoints see one vector.
#ifndef TRIBUTARY_COMMON_PARAMS_H_
#define TRIBUTARY_COMMON_PARAMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tributary {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;

// One named tensor inside the flat buffer. Shapes are row-major.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t size = 0;
};

// The order, names and shapes of a model's tensors. Built once per model;
// immutable afterwards.
class ParamLayout {
 public:
  // Appends a tensor after the existing ones; returns its index.
  int Add(std::string name, std::vector<int64_t> shape);

  int64_t size() const { return size_; }
  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  const TensorSpec& tensor(int index) const { return tensors_[index]; }

  // Borrowed views of tensor `index` inside `flat` (which has size()).
  // A 1-D tensor is viewed as a 1 x n matrix.
  MatrixMap Matrix(absl::Span<float> flat, int index) const;
  ConstMatrixMap Matrix(absl::Span<const float> flat, int index) const;
  VectorMap Vector(absl::Span<float> flat, int index) const;
  ConstVectorMap Vector(absl::Span<const float> flat, int index) const;

 private:
  std::vector<TensorSpec> tensors_;
  int64_t size_ = 0;
};

// Float vectors as checkpoints store them: fp32 in this host's byte order
// (little-endian on every platform Tributary builds for).
std::string FloatsToBytes(absl::Span<const float> values);
// `bytes` as exactly `expected` floats; INVALID_ARGUMENT naming `what`
// when the length differs.
absl::StatusOr<std::vector<float>> FloatsFromBytes(absl::string_view bytes, size_t expected,
                                                   absl::string_view what);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_PARAMS_H_
