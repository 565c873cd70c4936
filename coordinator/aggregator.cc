#include "coordinator/aggregator.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

using tributary::v1::AggregationSpec;

Aggregator::Aggregator(const AggregatorOptions& options, std::vector<float> initial_params)
    : options_(options),
      params_(std::move(initial_params)),
      optimizer_(options.optimizer, params_.size()),
      step_(params_.size(), 0.0f) {}

double Aggregator::LearningRate(uint64_t step) const {
  return ScheduledLearningRate(options_.optimizer, step, options_.total_steps);
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
  const float weight = static_cast<float>(StalenessWeight(version_ - base_version));
  std::copy(gradient.begin(), gradient.end(), step_.begin());
  optimizer_.Step(absl::MakeSpan(params_), absl::MakeSpan(step_),
                  static_cast<float>(LearningRate(version_)), weight);
  return ++version_;
}

}  // namespace tributary::coordinator
