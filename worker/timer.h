// Time for the worker loop: what time it is, and waiting for a condition
// with a timeout. RealTimer is the wall clock; the simulation test runs the
// loop on a sped-up one, so a 30 s backoff takes milliseconds.
#ifndef TRIBUTARY_WORKER_TIMER_H_
#define TRIBUTARY_WORKER_TIMER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tributary::worker {

// Thread-safe.
class Timer : public Clock {
 public:
  // Waits with `mu` held (released meanwhile) until `cond` holds or
  // `timeout` of this timer's time has passed; returns whether `cond` held.
  virtual bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

class RealTimer : public Timer {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& cond, absl::Duration timeout) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu.AwaitWithTimeout(cond, timeout);
  }
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_TIMER_H_
