// The run's loss history for plotting (/api/history, the dashboard's
// curves): a point every few applied updates and one per evaluation.
//
// Bounded however long the run: past `capacity` points, the older half is
// thinned two to one, so old stretches of the curve keep a coarser
// resolution and recent ones a fine one. Of each pair the point carrying
// an evaluation is kept (evaluations are few and each one is drawn), else
// the later one; every kept point is one that was recorded, never an
// average. Thinning halves the older half, so it runs once per capacity/4
// appends and the cost per append stays constant on average.
//
// A value type; not thread-safe (the owner serialises).
#ifndef TRIBUTARY_COORDINATOR_HISTORY_H_
#define TRIBUTARY_COORDINATOR_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tributary::coordinator {

struct HistoryPoint {
  uint64_t version = 0;
  double time_s = 0;  // Since the run started.
  int64_t samples_processed = 0;
  std::optional<double> train_loss;
  std::optional<double> eval_loss;
};

// Points kept by default: about 100 KB of JSON per /api/history.
inline constexpr size_t kHistoryCapacity = 1024;

class LossHistory {
 public:
  explicit LossHistory(size_t capacity = kHistoryCapacity);

  // Adds `point` in version order, after every point of its version or an
  // older one. Points come in order but for an evaluation's: it is
  // recorded when the evaluation ends, after the points of the versions
  // applied while it ran, and carries the version, time and samples of the
  // model it evaluated (so a curve drawn in order never turns back).
  void Append(const HistoryPoint& point);
  // Replaces the points (a restored checkpoint's), in version order and
  // thinned to the capacity.
  void Assign(std::vector<HistoryPoint> points);
  const std::vector<HistoryPoint>& points() const { return points_; }

 private:
  void Thin();

  size_t capacity_;
  std::vector<HistoryPoint> points_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_HISTORY_H_
