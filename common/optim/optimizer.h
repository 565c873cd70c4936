// The optimizers a job names (OptimizerSpec): SGD with momentum (optionally
// Nesterov, coupled weight decay; optionally delayed Nesterov) or AdamW, with gradient-norm clipping and
// a warmup + cosine learning-rate schedule. One implementation serves the
// worker's inner loop and the coordinator's outer step.
//
// Pure and deterministic; not thread-safe.
#ifndef TRIBUTARY_COMMON_OPTIM_OPTIMIZER_H_
#define TRIBUTARY_COMMON_OPTIM_OPTIMIZER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/optim/adamw.h"
#include "tributary/v1/checkpoint.pb.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

// The learning rate of step `step` (0-based) of a schedule `total_steps`
// long: linear warmup over spec.warmup_steps to spec.lr, then constant or a
// cosine decay to 0 at total_steps.
double ScheduledLearningRate(const tributary::v1::OptimizerSpec& spec, uint64_t step,
                             int64_t total_steps);

class Optimizer {
 public:
  Optimizer(const tributary::v1::OptimizerSpec& spec, int64_t size);

  // One step: clips `grad` in place to spec.clip_norm (when > 0), then moves
  // `params`. `scale` (a staleness weight; 1 for none) scales the step: SGD
  // scales the gradient; AdamW, whose moments normalise a gradient's scale
  // away, feeds them the gradient as is and scales its learning rate.
  void Step(absl::Span<float> params, absl::Span<float> grad, float lr, float scale = 1.0f);

  // The state a checkpoint keeps (momenta, moments, step counts).
  tributary::v1::OptimizerState SaveState() const;
  // Continues from SaveState's output. INVALID_ARGUMENT, leaving this
  // optimizer as it was, when the state does not fit its kind and size.
  absl::Status RestoreState(const tributary::v1::OptimizerState& state);

 private:
  tributary::v1::OptimizerSpec spec_;
  std::vector<float> momentum_;  // SGD's velocity (empty for AdamW).
  // Delayed Nesterov (momentum_period N > 1): the sum of this period's
  // updates, and how many it holds.
  std::vector<float> period_sum_;
  int period_count_ = 0;
  AdamW adamw_;                  // Moments (empty for SGD).
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_OPTIM_OPTIMIZER_H_
