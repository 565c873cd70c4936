#include "coordinator/update_source.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/parallel.h"

namespace tributary::coordinator {

absl::StatusOr<double> DecodedUpdate::Inspect() const {
  if (values_.size() != size_) {
    return absl::InvalidArgumentError(absl::StrCat("update has ", values_.size(), " values, model has ", size_));
  }
  if (absl::Status s = CheckFinite(values_, "update"); !s.ok()) return s;
  double sum_squares = 0;
  for (float v : values_) sum_squares += static_cast<double>(v) * v;
  return std::sqrt(sum_squares);
}

void DecodedUpdate::DecodeTo(absl::Span<float> out) const { std::copy(values_.begin(), values_.end(), out.begin()); }

void DecodedUpdate::AccumulateTo(float weight, absl::Span<float> acc, int threads) const {
  ParallelFor(threads, static_cast<int64_t>(acc.size()), 2, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) acc[i] += weight * values_[i];
  });
}

}  // namespace tributary::coordinator
