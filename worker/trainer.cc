#include "worker/trainer.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/job_limits.h"
#include "common/params.h"

namespace tributary::worker {

Trainer::Trainer(std::unique_ptr<Model> model, const tributary::v1::OptimizerSpec& inner,
                 uint64_t inner_schedule_steps, float momentum)
    : model_(std::move(model)),
      inner_spec_(inner),
      inner_schedule_steps_(inner_schedule_steps),
      momentum_(momentum) {}

absl::Status Trainer::CheckTask(const tributary::v1::Task& task, absl::string_view shard) const {
  const std::string where = absl::StrCat("task ", task.task_id(), ": ");
  if (task.local_steps() < 1 || task.local_steps() > static_cast<uint32_t>(kMaxLocalSteps)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "local_steps must be in [1, ", kMaxLocalSteps, "], got ", task.local_steps()));
  }
  if (shard.empty() || shard.size() % model_->example_bytes() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, "shard of ", shard.size(),
                                                   " bytes is not whole examples of ",
                                                   model_->example_bytes()));
  }
  // Steps split the shard evenly: the largest batch is the first one's.
  const int64_t examples = static_cast<int64_t>(shard.size()) / model_->example_bytes();
  const int64_t steps = Steps(task, shard);
  const int64_t largest = (examples + steps - 1) / steps;
  if (largest > model_->max_batch_examples()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "a step of ", largest, " examples exceeds the ",
                                                   model_->max_batch_examples(), " the model was built for"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LossStats> Trainer::ComputeUpdate(const tributary::v1::Task& task,
                                                 absl::Span<const float> params,
                                                 absl::string_view shard, absl::Span<float> update) {
  const int64_t n = model_->layout().size();
  if (static_cast<int64_t>(params.size()) != n || static_cast<int64_t>(update.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("task ", task.task_id(), ": model has ", params.size(), " values, want ", n));
  }
  if (absl::Status s = CheckTask(task, shard); !s.ok()) return s;
  if (task.local_steps() > 1) return LocalSteps(task, params, shard, update);
  const auto records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(shard.data()), shard.size());
  const absl::StatusOr<LossStats> stats = model_->ForwardBackward(params, records, update);
  if (!stats.ok()) return stats.status();
  if (step_hook_) step_hook_(1, 1, *stats);
  if (momentum_ > 0) {
    if (average_.empty()) average_.assign(n, 0.0f);
    VectorMap m(average_.data(), n), g(update.data(), n);
    m = momentum_ * m + (1 - momentum_) * g;
    g = m;
  }
  return stats;
}

void Trainer::Begin(absl::Span<const float> params) {
  local_.assign(params.begin(), params.end());
  grads_.resize(local_.size());
  if (!inner_) inner_.emplace(inner_spec_, static_cast<int64_t>(local_.size()));
}

int64_t Trainer::Steps(const tributary::v1::Task& task, absl::string_view shard) const {
  const int64_t examples = static_cast<int64_t>(shard.size()) / model_->example_bytes();
  return std::min<int64_t>(task.local_steps(), examples);
}

absl::StatusOr<LossStats> Trainer::Step(const tributary::v1::Task& task, int64_t i, absl::string_view shard) {
  const int64_t bytes = model_->example_bytes();
  const int64_t examples = static_cast<int64_t>(shard.size()) / bytes;
  const int64_t steps = Steps(task, shard);
  // Batch i: examples [examples * i / steps, examples * (i + 1) / steps).
  const int64_t begin = examples * i / steps, end = examples * (i + 1) / steps;
  const auto records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(shard.data()) + begin * bytes,
                                           (end - begin) * bytes);
  const absl::StatusOr<LossStats> stats = model_->ForwardBackward(local_, records, absl::MakeSpan(grads_));
  if (!stats.ok()) return stats.status();
  const uint64_t total = task.schedule_total_steps() > 0 ? task.schedule_total_steps() : inner_schedule_steps_;
  const double lr = ScheduledLearningRate(inner_spec_, task.schedule_step() + i, total);
  inner_->Step(absl::MakeSpan(local_), absl::MakeSpan(grads_), static_cast<float>(lr));
  if (step_hook_) step_hook_(i + 1, steps, *stats);
  return stats;
}

void Trainer::Rebase(absl::Span<const float> global, absl::Span<const float> sent) {
  const int64_t n = static_cast<int64_t>(local_.size());
  VectorMap(local_.data(), n) += ConstVectorMap(global.data(), n) - ConstVectorMap(sent.data(), n);
}

void Trainer::PseudoGradient(absl::Span<const float> anchor, absl::Span<float> update) const {
  const int64_t n = static_cast<int64_t>(local_.size());
  VectorMap(update.data(), n) = ConstVectorMap(anchor.data(), n) - ConstVectorMap(local_.data(), n);
}

absl::StatusOr<LossStats> Trainer::LocalSteps(const tributary::v1::Task& task, absl::Span<const float> params,
                              absl::string_view shard, absl::Span<float> update) {
  Begin(params);
  LossStats total;
  const int64_t steps = Steps(task, shard);
  for (int64_t i = 0; i < steps; ++i) {
    absl::StatusOr<LossStats> step = Step(task, i, shard);
    if (!step.ok()) return step.status();
    total += *step;
  }
  PseudoGradient(params, update);
  return total;
}

}  // namespace tributary::worker
