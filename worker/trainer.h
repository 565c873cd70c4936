// The worker's compute core: turns a task, its shard and its base weights
// into an update. Pure: no I/O, no threads of its own (Eigen may use
// --threads cores inside one product).
#ifndef TRIBUTARY_WORKER_TRAINER_H_
#define TRIBUTARY_WORKER_TRAINER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/models/model.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::worker {

class Trainer {
 public:
  explicit Trainer(std::unique_ptr<Model> model) : model_(std::move(model)) {}

  Model& model() { return *model_; }

  // Writes the task's update into `update` (the params' size): with one
  // local step, the gradient of the mean loss over the whole shard.
  // INVALID_ARGUMENT when the task, shard or params do not fit the model.
  absl::StatusOr<LossStats> ComputeUpdate(const tributary::v1::Task& task,
                                          absl::Span<const float> params, absl::string_view shard,
                                          absl::Span<float> update);

 private:
  std::unique_ptr<Model> model_;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_TRAINER_H_
