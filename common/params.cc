#include "common/params.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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

std::string FloatsToBytes(absl::Span<const float> values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

absl::StatusOr<std::vector<float>> FloatsFromBytes(absl::string_view bytes, size_t expected,
                                                   absl::string_view what) {
  if (bytes.size() != expected * sizeof(float)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", bytes.size(), " bytes, expected ", expected,
                                                   " floats (", expected * sizeof(float), " bytes)"));
  }
  std::vector<float> values(expected);
  // An empty vector's data() may be null, and memcpy's pointers must never be.
  if (expected > 0) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

}  // namespace tributary
