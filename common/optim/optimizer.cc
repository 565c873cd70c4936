#include "common/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

#include "common/params.h"

namespace tributary {

using tributary::v1::OptimizerSpec;

namespace {

bool IsAdamW(const OptimizerSpec& spec) { return spec.kind() == OptimizerSpec::ADAMW; }

AdamWOptions AdamWOptionsOf(const OptimizerSpec& spec) {
  AdamWOptions options;
  options.beta1 = spec.beta1();
  options.beta2 = spec.beta2();
  options.eps = spec.eps();
  options.weight_decay = spec.weight_decay();
  return options;
}

}  // namespace

double ScheduledLearningRate(const OptimizerSpec& spec, uint64_t step, int64_t total_steps) {
  const double peak = spec.lr();
  const double warmup = spec.warmup_steps();
  if (step < warmup) return peak * (step + 1) / warmup;
  if (spec.schedule() == OptimizerSpec::CONSTANT) return peak;
  const double span = std::max<double>(1.0, total_steps - warmup);
  const double progress = std::min(1.0, (step - warmup) / span);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

Optimizer::Optimizer(const OptimizerSpec& spec, int64_t size)
    : spec_(spec),
      // Only the chosen optimizer's state is allocated.
      momentum_(IsAdamW(spec) ? 0 : size, 0.0f),
      period_sum_(spec.momentum_period() > 1 ? size : 0, 0.0f),
      adamw_(AdamWOptionsOf(spec), IsAdamW(spec) ? size : 0) {}

void Optimizer::Step(absl::Span<float> params, absl::Span<float> grad, float lr, float scale) {
  if (spec_.clip_norm() > 0) ClipGradNorm(grad, spec_.clip_norm());
  if (IsAdamW(spec_)) {
    adamw_.Step(params, grad, lr * scale);
    return;
  }
  VectorMap d(grad.data(), grad.size());
  if (scale != 1.0f) d *= scale;
  // SGD: d += wd * w; v = mu * v + d; w -= lr * (nesterov ? d + mu * v : v).
  VectorMap w(params.data(), params.size()), v(momentum_.data(), momentum_.size());
  const float mu = spec_.momentum();
  d += scale * spec_.weight_decay() * w;
  const int period = spec_.momentum_period();
  if (period > 1) {
    // Delayed Nesterov: d now at lr / N; every N-th step v = mu v + mean(d)
    // and w -= lr mu v. Over a period: w -= lr (mean(d) + mu v), Nesterov.
    VectorMap sum(period_sum_.data(), period_sum_.size());
    w -= (lr / period) * d;
    sum += d;
    if (++period_count_ < period) return;
    v = mu * v + sum / static_cast<float>(period);
    w -= lr * mu * v;
    sum.setZero();
    period_count_ = 0;
    return;
  }
  v = mu * v + d;
  if (spec_.nesterov()) {
    w -= lr * (d + mu * v);
  } else {
    w -= lr * v;
  }
}

tributary::v1::OptimizerState Optimizer::SaveState() const {
  tributary::v1::OptimizerState state;
  state.set_momentum(FloatsToBytes(momentum_));
  state.set_period_sum(FloatsToBytes(period_sum_));
  state.set_period_count(period_count_);
  state.set_adam_m(FloatsToBytes(adamw_.first_moment()));
  state.set_adam_v(FloatsToBytes(adamw_.second_moment()));
  state.set_adam_steps(adamw_.steps());
  return state;
}

absl::Status Optimizer::RestoreState(const tributary::v1::OptimizerState& state) {
  absl::StatusOr<std::vector<float>> momentum = FloatsFromBytes(state.momentum(), momentum_.size(), "momentum");
  if (!momentum.ok()) return momentum.status();
  absl::StatusOr<std::vector<float>> period_sum =
      FloatsFromBytes(state.period_sum(), period_sum_.size(), "delayed-Nesterov sum");
  if (!period_sum.ok()) return period_sum.status();
  const int64_t adam_size = adamw_.size();
  absl::StatusOr<std::vector<float>> m = FloatsFromBytes(state.adam_m(), adam_size, "AdamW first moment");
  if (!m.ok()) return m.status();
  absl::StatusOr<std::vector<float>> v = FloatsFromBytes(state.adam_v(), adam_size, "AdamW second moment");
  if (!v.ok()) return v.status();
  const int period = std::max(1, spec_.momentum_period());
  if (state.period_count() < 0 || state.period_count() >= period || state.adam_steps() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer step counts out of range: period ",
                                                   state.period_count(), ", AdamW ", state.adam_steps()));
  }
  momentum_ = *std::move(momentum);
  period_sum_ = *std::move(period_sum);
  period_count_ = state.period_count();
  adamw_.Restore(*std::move(m), *std::move(v), state.adam_steps());
  return absl::OkStatus();
}

}  // namespace tributary
