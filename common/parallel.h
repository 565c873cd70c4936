// Data parallelism for the compute kernels, on OpenMP (which Eigen's
// matrix products already use). One process-wide thread count; loops split
// their range into the same contiguous pieces for the same count, so every
// result is computed by the same arithmetic in the same order: deterministic
// for a given thread count.
#ifndef TRIBUTARY_COMMON_PARALLEL_H_
#define TRIBUTARY_COMMON_PARALLEL_H_

#include <algorithm>
#include <cstdint>

namespace tributary {

// Sets the threads used by ParallelFor and by Eigen's products (>= 1).
void SetComputeThreads(int threads);
int ComputeThreads();

// Calls body(begin, end) on contiguous, disjoint pieces of [0, n), one
// piece per thread, in parallel when the work (n * cost_per_item, in rough
// float operations) is worth waking threads for. The pieces depend only on
// n and the thread count.
template <typename Body>
void ParallelFor(int64_t n, int64_t cost_per_item, Body body) {
  constexpr int64_t kMinParallelWork = 1 << 15;
  const int threads = ComputeThreads();
  if (threads <= 1 || n < 2 || n * cost_per_item < kMinParallelWork) {
    if (n > 0) body(int64_t{0}, n);
    return;
  }
  const int pieces = static_cast<int>(std::min<int64_t>(threads, n));
#pragma omp parallel for schedule(static) num_threads(pieces)
  for (int p = 0; p < pieces; ++p) {
    body(n * p / pieces, n * (p + 1) / pieces);
  }
}

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_PARALLEL_H_
