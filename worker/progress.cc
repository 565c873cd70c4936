#include "worker/progress.h"

#include "absl/strings/str_format.h"

namespace tributary::worker {
namespace {

std::string FormatBytes(double bytes) {
  if (bytes >= 1 << 20) return absl::StrFormat("%.1f MiB", bytes / (1 << 20));
  return absl::StrFormat("%.0f KiB", bytes / 1024);
}

}  // namespace

ProgressReporter::ProgressReporter(bool terminal, absl::Duration interval)
    : terminal_(terminal), interval_(interval) {}

std::string ProgressReporter::TaskLine(const TaskReport& r) const {
  const double seconds = absl::ToDoubleSeconds(r.compute);
  return absl::StrFormat(
      "task %d (shard %d, epoch %d): loss %.4f over %d examples in %.0f ms (%.0f ex/s); sent %s; "
      "model v%d -> v%d%s%s%s",
      r.task_id, r.shard_id, r.epoch, r.loss, r.examples, seconds * 1e3,
      seconds > 0 ? r.examples / seconds : 0.0, FormatBytes(r.sent_bytes), r.base_version,
      r.new_version, r.applied ? "" : " (duplicate, already applied)", r.budget.empty() ? "" : "; ", r.budget);
}

std::optional<std::string> ProgressReporter::TaskDone(const TaskReport& report, absl::Time now) {
  ++total_tasks_;
  if (!terminal_) return TaskLine(report);
  if (!since_) since_ = now;
  ++tasks_;
  examples_ += report.examples;
  loss_sum_ += report.loss;
  const absl::Duration elapsed = now - *since_;
  if (elapsed < interval_) return std::nullopt;
  const std::string line = absl::StrFormat(
      "%d tasks done (last: task %d, epoch %d); %.0f examples/s; mean loss %.4f; model v%d",
      total_tasks_, report.task_id, report.epoch, examples_ / absl::ToDoubleSeconds(elapsed),
      loss_sum_ / tasks_, report.new_version);
  since_ = now;
  tasks_ = examples_ = 0;
  loss_sum_ = 0;
  return line;
}

}  // namespace tributary::worker
