// The rate of a growing total over a recent window: the coordinator's
// samples and tokens per second (computed on the server, so every reader of
// /api/status sees the same number), a worker's tokens per second (its
// status line).
//
// The owner records the total as it grows; at most one mark per
// `resolution` is kept (a burst of records moves the newest mark), and
// marks older than the window are dropped but one, so memory is bounded by
// window / resolution + 3 marks. The rate at `now` is (newest total - the
// base's) / (now - the base's time), the base being the newest mark at or
// before the window's start (the oldest, for a total younger than the
// window): it falls towards zero while the total stands still and is zero
// once it has stood still for a whole window.
//
// Pure: time comes in as arguments. Not thread-safe (the owner serialises).
#ifndef TRIBUTARY_COMMON_RATE_WINDOW_H_
#define TRIBUTARY_COMMON_RATE_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "absl/time/time.h"

namespace tributary {

class RateWindow {
 public:
  RateWindow(absl::Duration window, absl::Duration resolution);

  // The total at `now`; both never decrease from call to call.
  void Record(absl::Time now, int64_t total);
  // Per second over the window that ends at `now`; nullopt until there is
  // a rate to tell (nothing recorded, or one mark and no time since).
  std::optional<double> PerSecond(absl::Time now) const;

  absl::Duration window() const { return window_; }
  size_t marks() const { return marks_.size(); }

 private:
  struct Mark {
    absl::Time time;
    int64_t total = 0;
  };

  absl::Duration window_;
  absl::Duration resolution_;
  std::deque<Mark> marks_;  // Oldest first.
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_RATE_WINDOW_H_
