// Exponential backoff with jitter for reconnecting to the coordinator: each
// delay doubles up to a cap, and is drawn uniformly from [d/2, d] so that
// workers cut off together do not come back together. Seeded; not
// thread-safe.
#ifndef TRIBUTARY_WORKER_BACKOFF_H_
#define TRIBUTARY_WORKER_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace tributary::worker {

class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);

  // The next delay to wait; advances the sequence.
  absl::Duration Next();
  // Back to the initial delay, after a success.
  void Reset() { current_ = initial_; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  absl::Duration current_;
  std::mt19937_64 rng_;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_BACKOFF_H_
