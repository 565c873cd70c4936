#include "coordinator/aggregator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/params.h"

namespace tributary::coordinator {

using tributary::v1::AggregationSpec;
using tributary::v1::OptimizerSpec;

namespace {

bool IsAdamW(const OptimizerSpec& opt) { return opt.kind() == OptimizerSpec::ADAMW; }

AdamWOptions AdamWOptionsOf(const OptimizerSpec& opt) {
  AdamWOptions options;
  options.beta1 = opt.beta1();
  options.beta2 = opt.beta2();
  options.eps = opt.eps();
  options.weight_decay = opt.weight_decay();
  return options;
}

}  // namespace

Aggregator::Aggregator(const AggregatorOptions& options, std::vector<float> initial_params)
    : options_(options),
      params_(std::move(initial_params)),
      // Only the chosen optimizer's state is allocated.
      momentum_(IsAdamW(options.optimizer) ? 0 : params_.size(), 0.0f),
      adamw_(AdamWOptionsOf(options.optimizer), IsAdamW(options.optimizer) ? params_.size() : 0),
      step_(params_.size(), 0.0f) {}

double Aggregator::LearningRate(uint64_t step) const {
  const auto& opt = options_.optimizer;
  const double peak = opt.lr();
  if (opt.schedule() == tributary::v1::OptimizerSpec::CONSTANT) return peak;
  const double warmup = opt.warmup_steps();
  if (step < warmup) return peak * (step + 1) / warmup;
  const double span = std::max<double>(1.0, options_.total_steps - warmup);
  const double progress = std::min(1.0, (step - warmup) / span);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double Aggregator::StalenessWeight(uint64_t staleness) const {
  switch (options_.aggregation.weighting()) {
    case AggregationSpec::CONSTANT:
      return 1.0;
    case AggregationSpec::INVERSE:
      return 1.0 / (1.0 + static_cast<double>(staleness));
  }
  return 1.0;
}

absl::Status Aggregator::CheckStaleness(uint64_t base_version) const {
  if (base_version > version_) {
    return absl::InvalidArgumentError(
        absl::StrCat("base version ", base_version, " is ahead of the model (", version_, ")"));
  }
  const uint64_t staleness = version_ - base_version;
  const uint64_t bound = options_.aggregation.max_staleness();
  if (staleness > bound) {
    return absl::AbortedError(
        absl::StrCat("staleness ", staleness, " exceeds the bound of ", bound));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Aggregator::Apply(absl::Span<const float> gradient, uint64_t base_version) {
  if (absl::Status s = CheckStaleness(base_version); !s.ok()) return s;
  if (gradient.size() != params_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("update has ", gradient.size(),
                                                   " values, model has ", params_.size()));
  }
  const auto& opt = options_.optimizer;
  const float weight = static_cast<float>(StalenessWeight(version_ - base_version));
  const float lr = static_cast<float>(LearningRate(version_));
  VectorMap w(params_.data(), params_.size());
  VectorMap d(step_.data(), step_.size());
  d = ConstVectorMap(gradient.data(), gradient.size());
  if (opt.clip_norm() > 0) ClipGradNorm(absl::MakeSpan(step_), opt.clip_norm());
  d *= weight;
  if (IsAdamW(opt)) {
    adamw_.Step(absl::MakeSpan(params_), step_, lr);
    return ++version_;
  }
  // SGD: d += wd * w; v = mu * v + d; w -= lr * (nesterov ? d + mu * v : v).
  const float mu = opt.momentum();
  VectorMap v(momentum_.data(), momentum_.size());
  d += weight * opt.weight_decay() * w;
  v = mu * v + d;
  if (opt.nesterov()) {
    w -= lr * (d + mu * v);
  } else {
    w -= lr * v;
  }
  return ++version_;
}

}  // namespace tributary::coordinator
