// The aggregator owns the master weights (fp32) and the optimizer state, and
// folds updates into them as they arrive: asynchronously, never waiting for
// a round.
//
// An update computed from base version b arrives when the model is at
// version v; its staleness is v - b. Updates beyond the job's bound are
// rejected (ABORTED), as are, with the norm check on, updates whose norm is
// far above the recent median (OUT_OF_RANGE). The rest are weighted by the
// job's staleness function and
//   - buffer_size 1: applied at once, one version each;
//   - buffer_size K: kept until K are in, then combined by the job's rule
//     (mean, trimmed mean, median, centered clip; rules.h), each scaled by
//     its weight, and applied as one version (FedBuff). Under the mean
//     (without a quorum) the buffer is one running sum: each update is
//     decoded and added to it in one pass (UpdateSource), no copy each. Under a robust rule
//     the updates of one contributor (a worker) in a buffer are averaged
//     into one vote, so a fast worker, or an attacker, cannot fill a buffer
//     with its own updates and outvote the rest; with a quorum q the
//     buffer also waits for votes from q contributors.
// "Applied" means the job's (outer) optimizer steps with the update: a
// gradient, or a DiLoCo pseudo-gradient (base - local weights after a
// worker's local steps), under the job's learning-rate schedule.
//
// Pure and deterministic; not thread-safe (the owner serialises calls).
#ifndef TRIBUTARY_COORDINATOR_AGGREGATOR_H_
#define TRIBUTARY_COORDINATOR_AGGREGATOR_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/optim/optimizer.h"
#include "coordinator/update_source.h"
#include "tributary/v1/checkpoint.pb.h"
#include "tributary/v1/job.pb.h"

namespace tributary::coordinator {

struct AggregatorOptions {
  tributary::v1::OptimizerSpec optimizer;
  tributary::v1::AggregationSpec aggregation;
  // Optimizer steps the budget allows; the length of the learning-rate schedule.
  int64_t total_steps = 1;
  // Threads the robust rules may use (>= 1); results do not depend on it.
  int threads = 1;
};

struct Accepted {
  uint64_t version = 0;  // The model version after this update.
  uint64_t staleness = 0;
  bool stepped = false;  // It completed a buffer (always, with buffer_size 1).
};

class Aggregator {
 public:
  // Starts from `initial_params` at version 0.
  Aggregator(const AggregatorOptions& options, std::vector<float> initial_params);

  uint64_t version() const { return version_; }
  absl::Span<const float> params() const { return params_; }
  // Numbers the current weights `version` (above version()): a new leader
  // going on after versions its predecessor applied and never checkpointed
  // (coordinator/failover.h). The learning-rate schedule, which counts
  // versions, moves on with it.
  void SkipTo(uint64_t version) {
    if (version <= version_) return;
    skipped_ += version - version_;
    version_ = version;
  }
  // Optimizer steps taken: the version less the numbers skipped. The
  // learning-rate schedule counts these, so a failover's skipped numbers
  // do not move the schedule on.
  uint64_t steps() const { return version_ - skipped_; }
  // Accepted updates waiting for the buffer to fill.
  int buffered() const;

  // The weight an update of this staleness gets (in (0, 1]).
  double StalenessWeight(uint64_t staleness) const;

  // The learning rate of the step from version `step` to step + 1.
  double LearningRate(uint64_t step) const;
  // Sets the schedule's length from now on (a time budget re-estimates it
  // as the run goes; wall_clock_budget.h). At least 1.
  void set_total_steps(int64_t total_steps) { options_.total_steps = total_steps; }

  // OK when an update from `base_version` would be accepted now;
  // ABORTED when it is too stale, INVALID_ARGUMENT for a future version.
  absl::Status CheckStaleness(uint64_t base_version) const;

  // Takes `update` (same size as the params, finite) computed from
  // `base_version` by `contributor` (empty: nobody in particular). Errors
  // leave the weights and the buffer unchanged: CheckStaleness's,
  // INVALID_ARGUMENT for a wrong size, OUT_OF_RANGE from the norm check
  // (whose window still records the rejected norm).
  absl::StatusOr<Accepted> Apply(absl::Span<const float> update, uint64_t base_version,
                                 absl::string_view contributor = {});
  // The same for an update as it arrived; INVALID_ARGUMENT too when its
  // Inspect() fails.
  absl::StatusOr<Accepted> Apply(const UpdateSource& update, uint64_t base_version,
                                 absl::string_view contributor = {});

  // Apply in steps, for an owner that does the heavy ones outside its lock
  // (run.h): the update's Inspect() (its norm); then AdmitNorm, cheap,
  // which judges and records the norm (OK when the check is off,
  // OUT_OF_RANGE as Apply); then Add, which weights and buffers the update
  // and steps when the buffer is full. Add's precondition:
  // CheckStaleness(base_version), the update's Inspect() and AdmitNorm passed.
  bool norm_check() const { return options_.aggregation.norm_check_factor() > 0; }
  absl::Status AdmitNorm(double norm, absl::string_view contributor);
  Accepted Add(const UpdateSource& update, uint64_t base_version, absl::string_view contributor);

  // Applies a partly filled buffer now (the budget is spent and no more
  // updates will come). Returns whether it stepped.
  bool Flush();

  // Everything but the options: version, weights' optimizer state, the
  // buffer and the norm window. The weights themselves are params().
  tributary::v1::AggregatorState SaveState() const;
  // Continues from `params` and SaveState's output (a resumed run).
  // INVALID_ARGUMENT, leaving the aggregator as it was, when they do not
  // fit this aggregator's model size, optimizer or buffer size.
  absl::Status RestoreState(std::vector<float> params, const tributary::v1::AggregatorState& state);

 private:
  // Combines a buffer of two or more updates by the job's rule into step_.
  void CombineBuffer();
  // Rejects a norm above the job's factor (> 0) times the median of recent ones.
  absl::Status CheckNorm(double norm) const;
  // K updates are in, from at least `quorum` contributors.
  bool BufferReady() const;
  // The buffered update of `contributor` that a robust rule folds a new
  // one into, or -1.
  int FoldingSlot(absl::string_view contributor) const;
  // The buffer is one running sum (MEAN without a quorum).
  bool Sums() const;

  // One place in the buffer: an accepted update not yet applied or, under
  // a robust rule, the weighted mean of one contributor's updates (then
  // with weight 1).
  struct Slot {
    std::vector<float> update;  // Model-sized; stays allocated from buffer to buffer.
    double weight = 1.0;        // Staleness weight, not yet multiplied in.
    std::string contributor;    // Empty: nobody in particular.
    int count = 1;              // Updates folded into it.
  };

  AggregatorOptions options_;
  std::vector<float> params_;
  Optimizer optimizer_;
  std::vector<Slot> slots_;  // The first filled_ are the buffer.
  int filled_ = 0;
  std::vector<float> step_;      // Scratch: the combined update.
  std::vector<float> folded_;    // Scratch: an update folded into a contributor's mean.
  std::vector<float> center_;    // Centered clip's starting point.
  // The norm check's window: the newest norm of each of the last
  // norm_window contributors, least recently heard from first (an empty
  // contributor counts as a new one each time).
  struct RecentNorm {
    std::string contributor;
    double norm = 0;
  };
  std::deque<RecentNorm> recent_norms_;
  // Adds `norm` as `contributor`'s newest, evicting beyond the window.
  void RecordNorm(absl::string_view contributor, double norm);
  uint64_t version_ = 0;
  uint64_t skipped_ = 0;  // Version numbers SkipTo jumped over.
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_AGGREGATOR_H_
