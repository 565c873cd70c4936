#include "worker/trainer.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/params.h"

namespace tributary::worker {

namespace {

constexpr uint32_t kMaxLocalSteps = 10000;

}  // namespace

Trainer::Trainer(std::unique_ptr<Model> model, const tributary::v1::OptimizerSpec& inner,
                 uint64_t inner_schedule_steps, float momentum)
    : model_(std::move(model)),
      inner_spec_(inner),
      inner_schedule_steps_(inner_schedule_steps),
      momentum_(momentum) {}

absl::StatusOr<LossStats> Trainer::ComputeUpdate(const tributary::v1::Task& task,
                                                 absl::Span<const float> params,
                                                 absl::string_view shard, absl::Span<float> update) {
  const std::string where = absl::StrCat("task ", task.task_id(), ": ");
  const int64_t n = model_->layout().size();
  if (static_cast<int64_t>(params.size()) != n || static_cast<int64_t>(update.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "model has ", params.size(), " values, want ", n));
  }
  if (task.local_steps() < 1 || task.local_steps() > kMaxLocalSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "local_steps must be in [1, ", kMaxLocalSteps, "], got ", task.local_steps()));
  }
  if (shard.empty() || shard.size() % model_->example_bytes() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, "shard of ", shard.size(),
                                                   " bytes is not whole examples of ",
                                                   model_->example_bytes()));
  }
  const auto records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(shard.data()), shard.size());
  if (task.local_steps() > 1) return LocalSteps(task, params, records, update);
  const LossStats stats = model_->ForwardBackward(params, records, update);
  if (momentum_ > 0) {
    if (average_.empty()) average_.assign(n, 0.0f);
    VectorMap m(average_.data(), n), g(update.data(), n);
    m = momentum_ * m + (1 - momentum_) * g;
    g = m;
  }
  return stats;
}

LossStats Trainer::LocalSteps(const tributary::v1::Task& task, absl::Span<const float> params,
                              absl::Span<const uint8_t> records, absl::Span<float> update) {
  const int64_t n = model_->layout().size();
  if (!inner_) inner_.emplace(inner_spec_, n);
  local_.assign(params.begin(), params.end());
  grads_.resize(n);
  const int64_t bytes = model_->example_bytes();
  const int64_t examples = static_cast<int64_t>(records.size()) / bytes;
  const int64_t steps = std::min<int64_t>(task.local_steps(), examples);
  // A job with a wall-clock budget re-estimates the schedule's length task by task.
  const uint64_t total_steps =
      task.schedule_total_steps() > 0 ? task.schedule_total_steps() : inner_schedule_steps_;
  LossStats total;
  for (int64_t i = 0; i < steps; ++i) {
    // Batch i: examples [examples * i / steps, examples * (i + 1) / steps).
    const int64_t begin = examples * i / steps, end = examples * (i + 1) / steps;
    total += model_->ForwardBackward(local_, records.subspan(begin * bytes, (end - begin) * bytes),
                                     absl::MakeSpan(grads_));
    const double lr = ScheduledLearningRate(inner_spec_, task.schedule_step() + i, total_steps);
    inner_->Step(absl::MakeSpan(local_), absl::MakeSpan(grads_), static_cast<float>(lr));
  }
  VectorMap(update.data(), n) = ConstVectorMap(params.data(), n) - ConstVectorMap(local_.data(), n);
  return total;
}

}  // namespace tributary::worker
