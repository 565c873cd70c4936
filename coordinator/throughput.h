// Samples and tokens per second over the last `window`, computed on the
// coordinator from its own counters, so every reader (the dashboard, a
// headless browser, a script polling /api/status once) sees the same rate
// without keeping state of its own.
//
// The run records its running totals at each applied update; at most one
// mark per `resolution` is kept, and marks older than the window are
// dropped, so memory is bounded by window / resolution. The rate at `now`
// is (newest totals - totals at the base mark) over (now - the base's
// time), the base being the newest mark at or before the window's start
// (or the first, in a run younger than the window): it falls towards zero
// while nothing arrives, and is zero once the last update is a window old.
//
// Pure: time comes in as arguments. Not thread-safe (the owner serialises).
#ifndef TRIBUTARY_COORDINATOR_THROUGHPUT_H_
#define TRIBUTARY_COORDINATOR_THROUGHPUT_H_

#include <cstdint>
#include <deque>

#include "absl/time/time.h"

namespace tributary::coordinator {

struct Rates {
  double samples_per_s = 0;
  double tokens_per_s = 0;
};

class Throughput {
 public:
  explicit Throughput(absl::Duration window = absl::Seconds(30),
                      absl::Duration resolution = absl::Milliseconds(250));

  // The run's totals as of `now` (they never decrease).
  void Record(absl::Time now, int64_t samples, int64_t tokens);
  // Over the window that ends at `now`.
  Rates At(absl::Time now) const;
  absl::Duration window() const { return window_; }

 private:
  struct Mark {
    absl::Time time;
    int64_t samples = 0;
    int64_t tokens = 0;
  };

  absl::Duration window_;
  absl::Duration resolution_;
  std::deque<Mark> marks_;  // Oldest first.
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_THROUGHPUT_H_
