#include "coordinator/aggregator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/params.h"
#include "coordinator/rules.h"

namespace tributary::coordinator {

using tributary::v1::AggregationSpec;

namespace {

// The norm check waits for this many accepted norms before judging.
constexpr size_t kMinNormsForCheck = 4;

double Median(std::vector<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  return 0.5 * (values[mid] + *std::max_element(values.begin(), values.begin() + mid));
}

}  // namespace

Aggregator::Aggregator(const AggregatorOptions& options, std::vector<float> initial_params)
    : options_(options),
      params_(std::move(initial_params)),
      optimizer_(options.optimizer, params_.size()) {}

double Aggregator::LearningRate(uint64_t step) const {
  return ScheduledLearningRate(options_.optimizer, step, options_.total_steps);
}

double Aggregator::StalenessWeight(uint64_t staleness) const {
  const double s = static_cast<double>(staleness);
  switch (options_.aggregation.weighting()) {
    case AggregationSpec::CONSTANT:
      return 1.0;
    case AggregationSpec::INVERSE:
      return 1.0 / (1.0 + s);
    case AggregationSpec::POLYNOMIAL:
      return std::pow(1.0 + s, -static_cast<double>(options_.aggregation.staleness_exponent()));
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

absl::Status Aggregator::CheckNorm(double norm) const {
  const double factor = options_.aggregation.norm_check_factor();
  if (recent_norms_.size() < kMinNormsForCheck) return absl::OkStatus();
  std::vector<double> norms;
  norms.reserve(recent_norms_.size());
  for (const RecentNorm& recent : recent_norms_) norms.push_back(recent.norm);
  const double median = Median(std::move(norms));
  if (norm <= factor * median) return absl::OkStatus();
  return absl::OutOfRangeError(absl::StrCat("update norm ", norm, " exceeds ", factor,
                                            " x the recent median ", median));
}

int Aggregator::buffered() const {
  return std::accumulate(slots_.begin(), slots_.begin() + filled_, 0,
                         [](int sum, const Slot& slot) { return sum + slot.count; });
}

bool Aggregator::BufferReady() const {
  return buffered() >= options_.aggregation.buffer_size() && filled_ >= options_.aggregation.quorum();
}

int Aggregator::FoldingSlot(absl::string_view contributor) const {
  if (contributor.empty() || options_.aggregation.rule() == AggregationSpec::MEAN) return -1;
  for (int i = 0; i < filled_; ++i) {
    if (slots_[i].contributor == contributor) return i;
  }
  return -1;
}

void Aggregator::RecordNorm(absl::string_view contributor, double norm) {
  if (!contributor.empty()) {
    auto same = std::find_if(recent_norms_.begin(), recent_norms_.end(),
                             [contributor](const RecentNorm& r) { return r.contributor == contributor; });
    if (same != recent_norms_.end()) recent_norms_.erase(same);
  }
  recent_norms_.push_back({std::string(contributor), norm});
  if (static_cast<int>(recent_norms_.size()) > options_.aggregation.norm_window()) recent_norms_.pop_front();
}

absl::Status Aggregator::AdmitNorm(double norm, absl::string_view contributor) {
  if (!norm_check()) return absl::OkStatus();
  const absl::Status checked = CheckNorm(norm);
  // Rejected norms join the window too. Were only accepted ones kept, a
  // real rise of every honest norm (a loss spike, a larger learning rate)
  // would be rejected for good, and the run would redo the same shards
  // forever; this way the median follows it once half the contributors
  // rose. The window holds one norm per contributor: a rejected update
  // comes back in milliseconds (no apply, no wait), so a minority whose
  // updates are all rejected once filled a window of the last N updates
  // by itself and moved the median until its x100 updates passed (the
  // Byzantine e2e test saw 24 get through). Now it moves only its own entry.
  if (std::isfinite(norm)) RecordNorm(contributor, norm);
  return checked;
}

absl::StatusOr<Accepted> Aggregator::Apply(absl::Span<const float> update, uint64_t base_version,
                                           absl::string_view contributor) {
  return Apply(DecodedUpdate(update, params_.size()), base_version, contributor);
}

absl::StatusOr<Accepted> Aggregator::Apply(const UpdateSource& update, uint64_t base_version,
                                           absl::string_view contributor) {
  if (absl::Status s = CheckStaleness(base_version); !s.ok()) return s;
  absl::StatusOr<double> norm = update.Inspect();
  if (!norm.ok()) return norm.status();
  if (absl::Status s = AdmitNorm(*norm, contributor); !s.ok()) return s;
  return Add(update, base_version, contributor);
}

bool Aggregator::Sums() const {
  return options_.aggregation.rule() == AggregationSpec::MEAN && options_.aggregation.quorum() <= 1;
}

Accepted Aggregator::Add(const UpdateSource& update, uint64_t base_version, absl::string_view contributor) {
  Accepted accepted;
  accepted.staleness = version_ - base_version;
  const double weight = StalenessWeight(accepted.staleness);
  const size_t n = params_.size();
  if (Sums() && filled_ == 1) {
    // The running sum of the buffer's weighted updates: this one is decoded
    // and added in one pass.
    Slot& sum = slots_[0];
    VectorMap total(sum.update.data(), n);
    if (sum.weight != 1.0) total *= static_cast<float>(sum.weight);
    sum.weight = 1.0;
    update.AccumulateTo(static_cast<float>(weight), absl::MakeSpan(sum.update), options_.threads);
    ++sum.count;
  } else if (const int slot = FoldingSlot(contributor); slot >= 0) {
    // The running mean of this contributor's weighted updates.
    folded_.resize(n);
    update.DecodeTo(absl::MakeSpan(folded_));
    Slot& folded = slots_[slot];
    VectorMap mean(folded.update.data(), n);
    if (folded.weight != 1.0) mean *= static_cast<float>(folded.weight);
    folded.weight = 1.0;
    const int count = ++folded.count;
    mean += (static_cast<float>(weight) * ConstVectorMap(folded_.data(), n) - mean) / static_cast<float>(count);
  } else {
    // Decoded straight into the buffer (its slots stay allocated).
    if (filled_ == static_cast<int>(slots_.size())) slots_.emplace_back();
    Slot& fresh = slots_[filled_++];
    fresh.update.resize(n);
    update.DecodeTo(absl::MakeSpan(fresh.update));
    fresh.weight = weight;
    fresh.contributor = Sums() ? std::string() : std::string(contributor);
    fresh.count = 1;
  }
  if (BufferReady()) accepted.stepped = Flush();
  accepted.version = version_;
  return accepted;
}

bool Aggregator::Flush() {
  if (filled_ == 0) return false;
  const float lr = static_cast<float>(LearningRate(steps()));
  if (filled_ == 1) {
    // Every rule returns a lone update as is (a running sum, divided by its
    // count). Its staleness weight goes to the optimizer, which knows how
    // to scale a step (optimizer.h).
    Slot& only = slots_[0];
    if (Sums() && only.count > 1) VectorMap(only.update.data(), only.update.size()) /= static_cast<float>(only.count);
    optimizer_.Step(absl::MakeSpan(params_), absl::MakeSpan(only.update), lr, static_cast<float>(only.weight));
  } else {
    CombineBuffer();
    optimizer_.Step(absl::MakeSpan(params_), absl::MakeSpan(step_), lr);
  }
  filled_ = 0;
  ++version_;
  return true;
}

// Each update is scaled by its staleness weight, then the rule combines
// them: for the mean, sum(w_i u_i) / K.
void Aggregator::CombineBuffer() {
  const int k = filled_;
  step_.resize(params_.size());  // Allocated at the first buffer only.
  Updates updates;
  for (int i = 0; i < k; ++i) {
    Slot& slot = slots_[i];
    if (slot.weight != 1.0) VectorMap(slot.update.data(), slot.update.size()) *= static_cast<float>(slot.weight);
    updates.push_back(slot.update);
  }
  const auto& agg = options_.aggregation;
  switch (agg.rule()) {
    case AggregationSpec::MEAN:
      MeanRule(updates, absl::MakeSpan(step_));
      return;
    case AggregationSpec::TRIMMED_MEAN:
      TrimmedMeanRule(options_.threads, updates, std::min(static_cast<int>(agg.trim_fraction() * k), (k - 1) / 2),
                      absl::MakeSpan(step_));
      return;
    case AggregationSpec::MEDIAN:
      MedianRule(options_.threads, updates, absl::MakeSpan(step_));
      return;
    case AggregationSpec::CENTERED_CLIP:
      // The center is the buffer's coordinate-wise median, not the paper's
      // last aggregate: the paper's workers send momenta, which change
      // little between rounds, while ours send raw gradients, which do. From
      // the last aggregate the result lagged like a second momentum, and
      // ALIE (z = 1) drove it to divergence (MLP eval 35.8; 0.97 from the
      // median; clean 0.89 vs 0.56; docs/BENCHMARKS.md).
      center_.resize(step_.size());
      MedianRule(options_.threads, updates, absl::MakeSpan(center_));
      CenteredClipRule(updates, center_, agg.clip_tau(), agg.clip_iterations(), absl::MakeSpan(step_));
      return;
  }
}

tributary::v1::AggregatorState Aggregator::SaveState() const {
  tributary::v1::AggregatorState state;
  state.set_version(version_);
  state.set_skipped_versions(skipped_);
  *state.mutable_optimizer() = optimizer_.SaveState();
  for (int i = 0; i < filled_; ++i) {
    const Slot& slot = slots_[i];
    state.add_buffer(FloatsToBytes(slot.update));
    state.add_buffer_weights(slot.weight);
    state.add_buffer_contributors(slot.contributor);
    state.add_buffer_counts(slot.count);
  }
  // Norms only: the contributors' sessions end with this process.
  for (const RecentNorm& recent : recent_norms_) state.add_recent_norms(recent.norm);
  return state;
}

absl::Status Aggregator::RestoreState(std::vector<float> params, const tributary::v1::AggregatorState& state) {
  if (params.size() != params_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(params.size(), " weights, the model has ", params_.size()));
  }
  const int filled = state.buffer_size();
  const bool has_contributors = state.buffer_contributors_size() > 0, has_counts = state.buffer_counts_size() > 0;
  if (state.buffer_weights_size() != filled || (has_contributors && state.buffer_contributors_size() != filled) ||
      (has_counts && state.buffer_counts_size() != filled)) {
    return absl::InvalidArgumentError(absl::StrCat(filled, " buffered updates with ", state.buffer_weights_size(),
                                                   " weights, ", state.buffer_contributors_size(), " contributors and ",
                                                   state.buffer_counts_size(), " counts"));
  }
  std::vector<Slot> slots(filled);
  int64_t arrivals = 0;
  for (int i = 0; i < filled; ++i) {
    Slot& slot = slots[i];
    if (has_counts) slot.count = state.buffer_counts(i);
    if (slot.count < 1) return absl::InvalidArgumentError(absl::StrCat("buffered update ", i, ": count ", slot.count));
    if (has_contributors) slot.contributor = state.buffer_contributors(i);
    arrivals += slot.count;
  }
  // A buffer that was ready would have been combined before the save.
  const auto& agg = options_.aggregation;
  if (arrivals > std::numeric_limits<int>::max() || (arrivals >= agg.buffer_size() && filled >= agg.quorum())) {
    return absl::InvalidArgumentError(absl::StrCat(arrivals, " buffered updates from ", filled,
                                                   " contributors do not fit a buffer of ", agg.buffer_size(),
                                                   " with a quorum of ", agg.quorum()));
  }
  for (int i = 0; i < filled; ++i) {
    absl::StatusOr<std::vector<float>> update =
        FloatsFromBytes(state.buffer(i), params_.size(), absl::StrCat("buffered update ", i));
    if (!update.ok()) return update.status();
    const double weight = state.buffer_weights(i);
    if (!(weight > 0 && weight <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("buffered update ", i, ": weight ", weight));
    }
    slots[i].update = *std::move(update);
    slots[i].weight = weight;
  }
  if (state.recent_norms_size() > options_.aggregation.norm_window()) {
    return absl::InvalidArgumentError(absl::StrCat(state.recent_norms_size(), " recent norms, the window is ",
                                                   options_.aggregation.norm_window()));
  }
  for (double norm : state.recent_norms()) {
    if (!(norm >= 0 && std::isfinite(norm))) return absl::InvalidArgumentError(absl::StrCat("recent norm ", norm));
  }
  if (state.skipped_versions() > state.version()) {
    return absl::InvalidArgumentError(
        absl::StrCat(state.skipped_versions(), " versions skipped of ", state.version()));
  }
  Optimizer optimizer(options_.optimizer, params_.size());
  if (absl::Status s = optimizer.RestoreState(state.optimizer()); !s.ok()) return s;

  params_ = std::move(params);
  optimizer_ = std::move(optimizer);
  slots_ = std::move(slots);
  filled_ = filled;
  recent_norms_.clear();
  for (double norm : state.recent_norms()) recent_norms_.push_back({"", norm});
  version_ = state.version();
  skipped_ = state.skipped_versions();
  return absl::OkStatus();
}

}  // namespace tributary::coordinator
