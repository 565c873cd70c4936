// Aggregation rules: how a buffer of K updates (each a vector of the
// model's size) becomes the one the optimizer applies. Pure functions.
//
//   mean           the average.
//   trimmed_mean   per coordinate, the ⌊βK⌋ largest and ⌊βK⌋ smallest
//                  values are dropped and the rest averaged: any ⌊βK⌋
//                  arbitrary updates are ignored exactly.
//   median         per coordinate (the mean of the two middle values for
//                  even K): breaks down only at half the buffer.
//   centered_clip  Karimireddy, He & Jaggi (ICML 2021): from a center v,
//                  `iterations` times v += mean_i((u_i - v) min(1, τ/‖u_i - v‖));
//                  each update moves the result by at most τ/K per
//                  iteration, however large it is. The aggregator starts
//                  from the buffer's coordinate-wise median.
//
// The per-coordinate rules take the threads they may use (>= 1, the
// caller's choice; common/parallel.h); their results do not depend on it.
#ifndef TRIBUTARY_COORDINATOR_RULES_H_
#define TRIBUTARY_COORDINATOR_RULES_H_

#include <vector>

#include "absl/types/span.h"

namespace tributary::coordinator {

using Updates = std::vector<absl::Span<const float>>;

// out = the average of `updates` (all out.size(), at least one).
void MeanRule(const Updates& updates, absl::Span<float> out);

// out = the coordinate-wise mean without the `trim` largest and `trim`
// smallest values (2 * trim < updates.size()).
void TrimmedMeanRule(int threads, const Updates& updates, int trim, absl::Span<float> out);

// out = the coordinate-wise median.
void MedianRule(int threads, const Updates& updates, absl::Span<float> out);

// out = centered clipping started from `center` (out.size()).
void CenteredClipRule(const Updates& updates, absl::Span<const float> center, double tau, int iterations,
                      absl::Span<float> out);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_RULES_H_
