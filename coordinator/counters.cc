#include "coordinator/counters.h"

#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "coordinator/time_budget.h"

namespace tributary::coordinator {

Counters::Counters(uint64_t max_staleness) {
  counters_.mutable_staleness_histogram()->Resize(static_cast<int>(max_staleness) + 1, 0);
}

absl::StatusOr<Counters> Counters::Restore(const tributary::v1::RunCounters& saved, uint64_t max_staleness) {
  if (saved.staleness_histogram_size() != static_cast<int>(max_staleness) + 1) {
    return absl::InvalidArgumentError(absl::StrCat("run counters: a staleness histogram of ",
                                                   saved.staleness_histogram_size(), " buckets, the job's bound is ",
                                                   max_staleness));
  }
  const int64_t counts[] = {saved.updates_applied(),     saved.updates_rejected(),    saved.samples_processed(),
                            saved.tokens_processed(),    saved.bytes_received_wire(), saved.bytes_received_raw(),
                            saved.bytes_sent_wire(),     saved.bytes_sent_raw(),      saved.joins(),
                            saved.bans(),                saved.eval_correct(),        saved.eval_examples()};
  for (int64_t count : counts) {
    if (count < 0) return absl::InvalidArgumentError("run counters: a negative count");
  }
  for (int64_t count : saved.staleness_histogram()) {
    if (count < 0) return absl::InvalidArgumentError("run counters: a negative staleness count");
  }
  if ((saved.has_train_loss() && !std::isfinite(saved.train_loss())) || !std::isfinite(saved.eval_loss_sum())) {
    return absl::InvalidArgumentError("run counters: a loss that is not finite");
  }
  if (absl::Status s = CheckTimeTotals(saved.time(), "run counters"); !s.ok()) return s;
  Counters restored(max_staleness);
  restored.counters_ = saved;
  // Others' parts of the message (the eval schedule, refusals) are theirs.
  restored.counters_.clear_next_eval_version();
  restored.counters_.clear_done();
  restored.counters_.clear_refused_by_reason();
  return restored;
}

void Counters::CountApplied(uint64_t staleness, int64_t examples, int64_t tokens) {
  counters_.set_updates_applied(counters_.updates_applied() + 1);
  counters_.set_staleness_histogram(static_cast<int>(staleness),
                                    counters_.staleness_histogram(static_cast<int>(staleness)) + 1);
  counters_.set_samples_processed(counters_.samples_processed() + examples);
  counters_.set_tokens_processed(counters_.tokens_processed() + tokens);
}

void Counters::CountRejected(const std::string& reason) {
  counters_.set_updates_rejected(counters_.updates_rejected() + 1);
  ++(*counters_.mutable_rejected_by_reason())[reason];
}

void Counters::CountReceived(int64_t wire_bytes, int64_t raw_bytes) {
  counters_.set_bytes_received_wire(counters_.bytes_received_wire() + wire_bytes);
  counters_.set_bytes_received_raw(counters_.bytes_received_raw() + raw_bytes);
}

void Counters::CountSent(int64_t wire_bytes, int64_t raw_bytes) {
  counters_.set_bytes_sent_wire(counters_.bytes_sent_wire() + wire_bytes);
  counters_.set_bytes_sent_raw(counters_.bytes_sent_raw() + raw_bytes);
}

void Counters::AddTime(const tributary::v1::TimeBudget& report) { AddTimeBudget(report, *counters_.mutable_time()); }

void Counters::SmoothTrainLoss(double loss, double weight) {
  counters_.set_train_loss(counters_.has_train_loss() ? (1 - weight) * counters_.train_loss() + weight * loss : loss);
}

void Counters::RecordEval(const LossStats& stats) {
  counters_.set_has_eval(true);
  counters_.set_eval_loss_sum(stats.loss_sum);
  counters_.set_eval_correct(stats.correct);
  counters_.set_eval_examples(stats.examples);
}

std::optional<double> Counters::train_loss() const {
  return counters_.has_train_loss() ? std::optional<double>(counters_.train_loss()) : std::nullopt;
}

std::optional<LossStats> Counters::last_eval() const {
  if (!counters_.has_eval()) return std::nullopt;
  return LossStats{counters_.eval_loss_sum(), counters_.eval_correct(), counters_.eval_examples()};
}

std::map<std::string, int64_t> Counters::rejected_by_reason() const {
  return {counters_.rejected_by_reason().begin(), counters_.rejected_by_reason().end()};
}

std::vector<int64_t> Counters::staleness_histogram() const {
  return {counters_.staleness_histogram().begin(), counters_.staleness_histogram().end()};
}

}  // namespace tributary::coordinator
