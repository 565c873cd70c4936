#include "coordinator/histogram.h"

#include <algorithm>
#include <cmath>

namespace tributary::coordinator {

Histogram::Histogram(absl::Span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), counts_(bounds.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (!(value >= 0)) value = 0;  // NaN too.
  // The first bound >= value: buckets are "less than or equal".
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[bucket];
  ++count_;
  if (std::isfinite(value)) sum_ += value;
}

}  // namespace tributary::coordinator
