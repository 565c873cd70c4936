// A histogram of durations with fixed bucket bounds, as Prometheus shows
// them: a count per bucket (not cumulative here; the exposition sums),
// the count of all observations and their sum. Bounds are seconds, from a
// millisecond (a heartbeat's apply) to half an hour (a slow volunteer's
// task), so one set serves the submit and task-time histograms.
//
// A value type; not thread-safe (the owner serialises).
#ifndef TRIBUTARY_COORDINATOR_HISTOGRAM_H_
#define TRIBUTARY_COORDINATOR_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace tributary::coordinator {

// Upper bounds (inclusive) of the buckets, in seconds; +Inf is implied.
inline constexpr double kSecondsBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                             2.5,   5,      10,    30,   60,    120,  300, 600, 1800};

class Histogram {
 public:
  explicit Histogram(absl::Span<const double> bounds = kSecondsBuckets);

  // Records one value; NaN and negative values count in the first bucket.
  void Observe(double value);

  absl::Span<const double> bounds() const { return bounds_; }
  // One count per bound, then the +Inf bucket's: bounds().size() + 1.
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_HISTOGRAM_H_
