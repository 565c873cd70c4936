// The worker's compute core: turns a task, its shard and its base weights
// into an update. Pure: no I/O, no threads of its own (the kernels use
// --threads cores inside each step).
//
// With one local step the update is the gradient of the mean loss over the
// whole shard. With H > 1 (DiLoCo) the shard is split into H batches, the
// inner optimizer takes H steps from the base weights, and the update is
// the pseudo-gradient base - local. Each step's learning rate comes from
// the run's inner schedule at the task's schedule position, so whichever
// worker gets a task continues the schedule where the run stands. The
// inner optimizer's state (AdamW's moments) stays with this worker from
// task to task, as in DiLoCo. With worker momentum b > 0 (gradient tasks
// only) the update is instead m = b m + (1 - b) gradient, this worker's
// running average over its tasks.
//
// Overlapped tasks (JobSpec.overlap) drive the local steps one at a time:
// Begin, Step per batch, Rebase when a new global model arrives, and
// PseudoGradient at the end; the local weights carry over between tasks.
#ifndef TRIBUTARY_WORKER_TRAINER_H_
#define TRIBUTARY_WORKER_TRAINER_H_

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/models/model.h"
#include "common/optim/optimizer.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::worker {

class Trainer {
 public:
  // `inner` and `inner_schedule_steps` serve tasks with local_steps > 1,
  // `momentum` (in [0, 1)) tasks with one.
  Trainer(std::unique_ptr<Model> model, const tributary::v1::OptimizerSpec& inner,
          uint64_t inner_schedule_steps, float momentum = 0.0f);

  Model& model() { return *model_; }

  // Called after every local step (once for a one-step task) with the steps
  // done, the task's step count and that step's loss, on the computing
  // thread: keep it cheap. Empty: none.
  using StepHook = std::function<void(int64_t done, int64_t steps, const LossStats& step)>;
  void set_step_hook(StepHook hook) { step_hook_ = std::move(hook); }

  // Writes the task's update into `update` (the params' size) and returns
  // the loss over the shard (for H > 1, each batch's loss before its step).
  // INVALID_ARGUMENT when the task, shard or params do not fit the model.
  absl::StatusOr<LossStats> ComputeUpdate(const tributary::v1::Task& task,
                                          absl::Span<const float> params, absl::string_view shard,
                                          absl::Span<float> update);

  // INVALID_ARGUMENT when the task or its shard does not fit the model,
  // or a step would take more examples than the model was built for.
  absl::Status CheckTask(const tributary::v1::Task& task, absl::string_view shard) const;

  // Step by step (tasks checked by CheckTask):
  // The local weights become `params`.
  void Begin(absl::Span<const float> params);
  // Local step `i` of `task` (of min(local_steps, examples)) on its batch
  // of `shard`, at the task's schedule position + i; returns the batch's
  // loss before the step, or the model's INVALID_ARGUMENT for a batch
  // that does not fit it (taking no step).
  absl::StatusOr<LossStats> Step(const tributary::v1::Task& task, int64_t i, absl::string_view shard);
  // The number of local steps `task` takes on `shard`.
  int64_t Steps(const tributary::v1::Task& task, absl::string_view shard) const;
  // Carries the local progress since `sent` onto `global`:
  // local += global - sent.
  void Rebase(absl::Span<const float> global, absl::Span<const float> sent);
  // update = anchor - local.
  void PseudoGradient(absl::Span<const float> anchor, absl::Span<float> update) const;
  absl::Span<const float> local() const { return local_; }

 private:
  absl::StatusOr<LossStats> LocalSteps(const tributary::v1::Task& task, absl::Span<const float> params,
                       absl::string_view shard, absl::Span<float> update);

  std::unique_ptr<Model> model_;
  StepHook step_hook_;
  tributary::v1::OptimizerSpec inner_spec_;
  uint64_t inner_schedule_steps_;
  float momentum_;
  std::optional<Optimizer> inner_;     // Created by the first multi-step task.
  std::vector<float> local_, grads_;  // The local weights and one step's gradient.
  std::vector<float> average_;         // Worker momentum's running average.
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_TRAINER_H_
