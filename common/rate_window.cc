#include "common/rate_window.h"

namespace tributary {

RateWindow::RateWindow(absl::Duration window, absl::Duration resolution)
    : window_(window), resolution_(resolution) {}

void RateWindow::Record(absl::Time now, int64_t total) {
  // Within one resolution step of the mark before it, the newest mark only
  // moves: a burst of records costs no memory.
  if (marks_.size() >= 2 && now - marks_[marks_.size() - 2].time < resolution_) {
    marks_.back() = {now, total};
  } else {
    marks_.push_back({now, total});
  }
  // Keep one mark at or before the window's start: the base of the rate.
  while (marks_.size() >= 2 && marks_[1].time <= now - window_) marks_.pop_front();
}

std::optional<double> RateWindow::PerSecond(absl::Time now) const {
  if (marks_.empty()) return std::nullopt;
  const absl::Time start = now - window_;
  const Mark* base = &marks_.front();
  for (const Mark& mark : marks_) {
    if (mark.time > start) break;
    base = &mark;
  }
  const Mark& newest = marks_.back();
  if (&newest == base) {
    // A lone mark inside the window tells no rate yet; one older than the
    // window says the total stood still all through it.
    if (newest.time > start) return std::nullopt;
    return 0.0;
  }
  const double seconds = absl::ToDoubleSeconds(now - base->time);
  if (seconds <= 0) return std::nullopt;
  return static_cast<double>(newest.total - base->total) / seconds;
}

}  // namespace tributary
