#include "coordinator/throughput.h"

namespace tributary::coordinator {

Throughput::Throughput(absl::Duration window, absl::Duration resolution)
    : window_(window), resolution_(resolution) {}

void Throughput::Record(absl::Time now, int64_t samples, int64_t tokens) {
  // Within one resolution step the newest mark only moves its totals: a
  // burst of updates costs no memory, and the window's start stays put.
  if (marks_.size() >= 2 && now - marks_[marks_.size() - 2].time < resolution_) {
    marks_.back() = {now, samples, tokens};
  } else {
    marks_.push_back({now, samples, tokens});
  }
  // Keep one mark at or before the window's start: the base of the rate.
  while (marks_.size() >= 2 && marks_[1].time <= now - window_) marks_.pop_front();
}

Rates Throughput::At(absl::Time now) const {
  if (marks_.empty()) return {};
  const absl::Time start = now - window_;
  // The base: the newest mark at or before the window's start, else the
  // oldest (a run younger than the window).
  const Mark* base = &marks_.front();
  for (const Mark& mark : marks_) {
    if (mark.time > start) break;
    base = &mark;
  }
  const Mark& newest = marks_.back();
  const double seconds = absl::ToDoubleSeconds(now - base->time);
  if (seconds <= 0 || &newest == base) return {};
  return {(newest.samples - base->samples) / seconds, (newest.tokens - base->tokens) / seconds};
}

}  // namespace tributary::coordinator
