#include "coordinator/aggregator.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/params.h"

namespace tributary::coordinator {

using tributary::v1::AggregationSpec;

Aggregator::Aggregator(const AggregatorOptions& options, std::vector<float> initial_params)
    : options_(options), params_(std::move(initial_params)), momentum_(params_.size(), 0.0f) {}

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
  const float mu = opt.momentum();
  VectorMap w(params_.data(), params_.size());
  VectorMap v(momentum_.data(), momentum_.size());
  ConstVectorMap g(gradient.data(), gradient.size());
  // d = weight * (g + wd * w); v = mu * v + d; step = nesterov ? d + mu * v : v.
  Eigen::VectorXf d = weight * (g + opt.weight_decay() * w);
  v = mu * v + d;
  if (opt.nesterov()) {
    w -= opt.lr() * (d + mu * v);
  } else {
    w -= opt.lr() * v;
  }
  return ++version_;
}

}  // namespace tributary::coordinator
