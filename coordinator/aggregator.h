// The aggregator owns the master weights (fp32) and the optimizer state, and
// folds updates into them as they arrive (apply-on-arrival asynchronous SGD).
//
// An update computed from base version b arrives when the model is at
// version v; its staleness is v - b. Updates beyond the job's bound are
// rejected; the rest are scaled by the job's staleness weighting and applied
// by the job's (outer) optimizer under its learning-rate schedule: a
// gradient, or a DiLoCo pseudo-gradient (base - local weights after a
// worker's local steps). Every applied update advances the version by one.
//
// Pure and deterministic; not thread-safe (the owner serialises calls).
#ifndef TRIBUTARY_COORDINATOR_AGGREGATOR_H_
#define TRIBUTARY_COORDINATOR_AGGREGATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/optim/optimizer.h"
#include "tributary/v1/job.pb.h"

namespace tributary::coordinator {

struct AggregatorOptions {
  tributary::v1::OptimizerSpec optimizer;
  tributary::v1::AggregationSpec aggregation;
  // Updates the budget allows; the length of the learning-rate schedule.
  int64_t total_steps = 1;
};

class Aggregator {
 public:
  // Starts from `initial_params` at version 0.
  Aggregator(const AggregatorOptions& options, std::vector<float> initial_params);

  uint64_t version() const { return version_; }
  absl::Span<const float> params() const { return params_; }

  // The weight an update of this staleness gets (in (0, 1]).
  double StalenessWeight(uint64_t staleness) const;

  // The learning rate of the step from version `step` to step + 1.
  double LearningRate(uint64_t step) const;

  // OK when an update from `base_version` would be accepted now;
  // ABORTED when it is too stale, INVALID_ARGUMENT for a future version.
  absl::Status CheckStaleness(uint64_t base_version) const;

  // Applies `gradient` (same size as the params, finite) computed from
  // `base_version`: clipped to the job's norm, scaled by its staleness
  // weight, stepped by the optimizer. Returns the new version, or
  // CheckStaleness's error with nothing changed.
  absl::StatusOr<uint64_t> Apply(absl::Span<const float> gradient, uint64_t base_version);

 private:
  AggregatorOptions options_;
  std::vector<float> params_;
  Optimizer optimizer_;
  std::vector<float> step_;  // Scratch: the clipped, weighted update.
  uint64_t version_ = 0;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_AGGREGATOR_H_
