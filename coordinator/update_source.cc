#include "coordinator/update_source.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

absl::StatusOr<double> DecodedUpdate::Inspect() const {
  if (values_.size() != size_) {
    return absl::InvalidArgumentError(absl::StrCat("update has ", values_.size(), " values, model has ", size_));
  }
  if (absl::Status s = CheckFinite(values_, "update"); !s.ok()) return s;
  return std::sqrt(SumOfSquares(values_));
}

void DecodedUpdate::DecodeTo(absl::Span<float> out) const { std::copy(values_.begin(), values_.end(), out.begin()); }

void DecodedUpdate::AccumulateTo(float weight, absl::Span<float> acc, int threads) const {
  AddScaled(weight, values_, acc, threads);
}

}  // namespace tributary::coordinator
