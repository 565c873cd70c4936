#include "worker/progress.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tributary::worker {
namespace {

std::string FormatBytes(double bytes) {
  if (bytes >= 1 << 20) return absl::StrFormat("%.1f MiB", bytes / (1 << 20));
  return absl::StrFormat("%.0f KiB", bytes / 1024);
}

}  // namespace

std::string TaskLine(const TaskReport& r) {
  const double seconds = absl::ToDoubleSeconds(r.compute);
  return absl::StrFormat(
      "task %d (shard %d, epoch %d): loss %.4f over %d examples in %.0f ms (%.0f ex/s); sent %s; "
      "model v%d -> v%d%s%s%s",
      r.task_id, r.shard_id, r.epoch, r.loss, r.examples, seconds * 1e3,
      seconds > 0 ? r.examples / seconds : 0.0, FormatBytes(r.sent_bytes), r.base_version,
      r.new_version, r.applied ? "" : " (duplicate, already applied)", r.budget.empty() ? "" : "; ", r.budget);
}

void RunSummary::Add(const TaskReport& report) {
  ++tasks_;
  examples_ += report.examples;
  compute_ += report.compute;
  sent_bytes_ += report.sent_bytes;
  last_loss_ = report.loss;
}

std::string RunSummary::Line() const {
  std::string line = absl::StrFormat("%d %s (%d examples, %s of compute, %s sent)", tasks_,
                                     tasks_ == 1 ? "task" : "tasks", examples_,
                                     absl::FormatDuration(absl::Trunc(compute_, absl::Milliseconds(1))),
                                     FormatBytes(sent_bytes_));
  if (tasks_ > 0) absl::StrAppend(&line, absl::StrFormat(", last loss %.4f", last_loss_));
  return line;
}

}  // namespace tributary::worker
