#include "common/params.h"

#include <utility>

namespace tributary {
namespace {

int64_t Rows(const TensorSpec& t) { return t.shape.size() == 1 ? 1 : t.shape[0]; }
int64_t Cols(const TensorSpec& t) { return t.shape.size() == 1 ? t.shape[0] : t.size / t.shape[0]; }

}  // namespace

int ParamLayout::Add(std::string name, std::vector<int64_t> shape) {
  TensorSpec t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.offset = size_;
  t.size = 1;
  for (int64_t d : t.shape) t.size *= d;
  size_ += t.size;
  tensors_.push_back(std::move(t));
  return static_cast<int>(tensors_.size()) - 1;
}

MatrixMap ParamLayout::Matrix(absl::Span<float> flat, int index) const {
  const TensorSpec& t = tensors_[index];
  return MatrixMap(flat.data() + t.offset, Rows(t), Cols(t));
}

ConstMatrixMap ParamLayout::Matrix(absl::Span<const float> flat, int index) const {
  const TensorSpec& t = tensors_[index];
  return ConstMatrixMap(flat.data() + t.offset, Rows(t), Cols(t));
}

VectorMap ParamLayout::Vector(absl::Span<float> flat, int index) const {
  const TensorSpec& t = tensors_[index];
  return VectorMap(flat.data() + t.offset, t.size);
}

ConstVectorMap ParamLayout::Vector(absl::Span<const float> flat, int index) const {
  const TensorSpec& t = tensors_[index];
  return ConstVectorMap(flat.data() + t.offset, t.size);
}

}  // namespace tributary
