#include "coordinator/history.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace tributary::coordinator {

LossHistory::LossHistory(size_t capacity) : capacity_(std::max<size_t>(capacity, 4)) {}

void LossHistory::Append(const HistoryPoint& point) {
  // Nearly always the end; an evaluation's point goes a few places back.
  auto at = points_.end();
  while (at != points_.begin() && std::prev(at)->version > point.version) --at;
  points_.insert(at, point);
  if (points_.size() > capacity_) Thin();
}

void LossHistory::Assign(std::vector<HistoryPoint> points) {
  points_ = std::move(points);
  // Checkpoints written before Append kept version order hold evaluations
  // where they ended.
  std::stable_sort(points_.begin(), points_.end(),
                   [](const HistoryPoint& a, const HistoryPoint& b) { return a.version < b.version; });
  while (points_.size() > capacity_) Thin();
}

void LossHistory::Thin() {
  const size_t older = points_.size() / 2 & ~size_t{1};  // An even count: whole pairs.
  size_t out = 0;
  for (size_t i = 0; i < older; i += 2) {
    const HistoryPoint& first = points_[i];
    const HistoryPoint& second = points_[i + 1];
    points_[out++] = first.eval_loss && !second.eval_loss ? first : second;
  }
  for (size_t i = older; i < points_.size(); ++i) points_[out++] = points_[i];
  points_.resize(out);
}

}  // namespace tributary::coordinator
