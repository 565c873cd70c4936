#include "worker/backoff.h"

#include <algorithm>

namespace tributary::worker {

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_(initial), max_(max), current_(initial), rng_(seed) {}

absl::Duration Backoff::Next() {
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const absl::Duration delay = current_ * jitter(rng_);
  current_ = std::min(current_ * 2, max_);
  return delay;
}

}  // namespace tributary::worker
