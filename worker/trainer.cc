#include "worker/trainer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::worker {

absl::StatusOr<LossStats> Trainer::ComputeUpdate(const tributary::v1::Task& task,
                                                 absl::Span<const float> params,
                                                 absl::string_view shard, absl::Span<float> update) {
  const std::string where = absl::StrCat("task ", task.task_id(), ": ");
  const int64_t n = model_->layout().size();
  if (static_cast<int64_t>(params.size()) != n || static_cast<int64_t>(update.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "model has ", params.size(), " values, want ", n));
  }
  if (task.local_steps() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "local_steps ", task.local_steps(), " is unsupported by this worker"));
  }
  if (shard.empty() || shard.size() % model_->example_bytes() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, "shard of ", shard.size(),
                                                   " bytes is not whole examples of ",
                                                   model_->example_bytes()));
  }
  const auto records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(shard.data()), shard.size());
  return model_->ForwardBackward(params, records, update);
}

}  // namespace tributary::worker
