// The run's counters: updates applied and rejected, staleness, samples and
// tokens, bytes each way, joins and bans, the workers' time reports, the
// smoothed training loss and the last evaluation. /api/status, /metrics and
// the checkpoint read them.
//
// Kept as the checkpoint's own message (RunCounters in checkpoint.proto), so
// a checkpoint takes a copy and a restore checks one, with no field copied
// by hand. What the message also holds but others own (the eval schedule's
// next version and done flag, the refusals counted under the service's
// lock) is filled in by the run when it saves.
//
// A value type; not thread-safe (the run serialises).
#ifndef TRIBUTARY_COORDINATOR_COUNTERS_H_
#define TRIBUTARY_COORDINATOR_COUNTERS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/models/model.h"
#include "tributary/v1/checkpoint.pb.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::coordinator {

class Counters {
 public:
  // Staleness is counted from 0 to `max_staleness`.
  explicit Counters(uint64_t max_staleness);

  // Counters saved by a run of a job with the same staleness bound;
  // INVALID_ARGUMENT when they do not fit it (histogram size, negative or
  // non-finite values).
  static absl::StatusOr<Counters> Restore(const tributary::v1::RunCounters& saved, uint64_t max_staleness);

  // An update folded in: its staleness, examples and predicted tokens.
  void CountApplied(uint64_t staleness, int64_t examples, int64_t tokens);
  void CountRejected(const std::string& reason);
  // Update bytes as sent and as the fp32 they decode to.
  void CountReceived(int64_t wire_bytes, int64_t raw_bytes);
  // Payload bytes streamed to workers, as sent and as what they stand for.
  void CountSent(int64_t wire_bytes, int64_t raw_bytes);
  void CountJoin() { counters_.set_joins(counters_.joins() + 1); }
  void CountBan() { counters_.set_bans(counters_.bans() + 1); }
  // A checked time report, added to the run's sum.
  void AddTime(const tributary::v1::TimeBudget& report);
  // Folds a worker's reported loss into the smoothed training loss
  // (`weight` of the newest report).
  void SmoothTrainLoss(double loss, double weight);
  void RecordEval(const LossStats& stats);

  const tributary::v1::RunCounters& proto() const { return counters_; }
  int64_t updates_applied() const { return counters_.updates_applied(); }
  int64_t samples_processed() const { return counters_.samples_processed(); }
  int64_t tokens_processed() const { return counters_.tokens_processed(); }
  std::optional<double> train_loss() const;
  std::optional<LossStats> last_eval() const;
  std::map<std::string, int64_t> rejected_by_reason() const;
  std::vector<int64_t> staleness_histogram() const;

 private:
  tributary::v1::RunCounters counters_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_COUNTERS_H_
