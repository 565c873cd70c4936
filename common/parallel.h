// Data parallelism for the compute kernels, on OpenMP (which Eigen's
// matrix products already use). There is no process-wide thread count:
// whatever computes (a model, the aggregator's rules, an evaluation) is
// given its own and passes it to every kernel. Loops split their range
// into the same contiguous pieces for the same count, so every result is
// computed by the same arithmetic in the same order: deterministic for a
// given thread count.
#ifndef TRIBUTARY_COMMON_PARALLEL_H_
#define TRIBUTARY_COMMON_PARALLEL_H_

#include <algorithm>
#include <cstdint>

namespace tributary {

// Calls body(begin, end) on contiguous, disjoint pieces of [0, n), one
// piece per thread (at most `threads`, at least 1), in parallel when the
// work (n * cost_per_item, in rough float operations) is worth waking
// threads for. The pieces depend only on n and the thread count.
template <typename Body>
void ParallelFor(int threads, int64_t n, int64_t cost_per_item, Body body) {
  constexpr int64_t kMinParallelWork = 1 << 15;
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

// Eigen's matrix products split themselves over omp_get_max_threads()
// threads, which reads OpenMP's thread count of the calling thread only
// (its nthreads ICV; this project never calls Eigen::setNbThreads, the
// process-wide override). For its lifetime, this sets that count for the
// calling thread to `threads` (at least 1), and then restores it; other
// threads are unaffected. Not movable; use on one thread.
class ScopedEigenThreads {
 public:
  explicit ScopedEigenThreads(int threads);
  ~ScopedEigenThreads();
  ScopedEigenThreads(const ScopedEigenThreads&) = delete;
  ScopedEigenThreads& operator=(const ScopedEigenThreads&) = delete;

 private:
  int saved_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_PARALLEL_H_
