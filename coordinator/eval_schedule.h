// When the run evaluates its model: at every interval_versions versions
// (counted from the last evaluation's version, so a burst of versions
// during a slow evaluation yields one evaluation, not a backlog), and
// once more when training has ended: the final evaluation, after which
// the run is done. One evaluation at a time.
//
// Pure; not thread-safe (the run guards it).
#ifndef TRIBUTARY_COORDINATOR_EVAL_SCHEDULE_H_
#define TRIBUTARY_COORDINATOR_EVAL_SCHEDULE_H_

#include <cstdint>

namespace tributary::coordinator {

class EvalSchedule {
 public:
  // A new run's schedule: the first evaluation at `interval_versions`.
  explicit EvalSchedule(uint64_t interval_versions)
      : interval_(interval_versions), next_version_(interval_versions) {}
  // A resumed run's: as a checkpoint saved it (no evaluation in flight).
  EvalSchedule(uint64_t interval_versions, uint64_t next_version, bool done)
      : interval_(interval_versions), next_version_(next_version), done_(done) {}

  // Whether an evaluation should start now, at model `version`.
  bool Due(uint64_t version, bool training_ended) const {
    if (in_flight_ || done_) return false;
    return training_ended || version >= next_version_;
  }
  // One starts (after Due).
  void Start() { in_flight_ = true; }
  // The one started has evaluated `version`; `final` when it was the
  // evaluation after training ended.
  void Finish(uint64_t version, bool final) {
    in_flight_ = false;
    next_version_ = version + interval_;
    if (final) done_ = true;
  }

  uint64_t next_version() const { return next_version_; }
  bool done() const { return done_; }

 private:
  uint64_t interval_;
  uint64_t next_version_;
  bool in_flight_ = false;
  bool done_ = false;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_EVAL_SCHEDULE_H_
