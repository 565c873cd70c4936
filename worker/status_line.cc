#include "worker/status_line.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tributary::worker {
namespace {

constexpr absl::string_view kSeparator = " | ";

// "950", "5.2k", "1.3M": a rate read at a glance.
std::string Count(double n) {
  if (n >= 1e6) return absl::StrFormat("%.1fM", n / 1e6);
  if (n >= 1e3) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrFormat("%.0f", n);
}

// "0.4/1.6 MiB", "12/800 KiB": both in the unit of the total.
std::string Progress(int64_t sent, int64_t total) {
  if (total >= 1 << 20) return absl::StrFormat("%.1f/%.1f MiB", sent / 1048576.0, total / 1048576.0);
  return absl::StrFormat("%.0f/%.0f KiB", sent / 1024.0, total / 1024.0);
}

std::string Retrying(const WorkerStatus& s, absl::Time now) {
  const char* what = s.busy ? "coordinator busy" : "coordinator unreachable";
  const double left = std::ceil(absl::ToDoubleSeconds(*s.retry_at - now));
  if (left <= 0) return absl::StrCat(what, ", retrying now");
  return absl::StrFormat("%s, retrying in %.0f s", what, left);
}

std::string Task(const WorkerStatus& s) {
  std::string task = absl::StrCat("task ", s.task_id, " (shard ", s.shard_id, ")");
  if (s.steps > 0) absl::StrAppend(&task, " step ", s.step, "/", s.steps);
  return task;
}

std::string Lease(absl::Time deadline, absl::Time now) {
  const double left = std::floor(absl::ToDoubleSeconds(deadline - now));
  if (left <= 0) return "lease expired";
  return absl::StrFormat("lease %.0f s", left);
}

// The parts of the line, most important first.
std::vector<std::string> Parts(const WorkerStatus& s, absl::Time now) {
  std::vector<std::string> parts;
  if (s.retry_at) parts.push_back(Retrying(s, now));
  if (s.task_id != 0) {
    parts.push_back(Task(s));
  } else if (!s.retry_at && !s.activity.empty()) {
    parts.push_back(s.activity);
  }
  if (s.rate) parts.push_back(absl::StrCat(Count(*s.rate), " ", s.rate_unit));
  if (s.loss) parts.push_back(absl::StrFormat("loss %.4f", *s.loss));
  if (s.upload_total > 0) parts.push_back(absl::StrCat("upload ", Progress(s.upload_sent, s.upload_total)));
  if (s.task_id != 0 && s.lease_deadline) parts.push_back(Lease(*s.lease_deadline, now));
  parts.push_back(absl::StrCat(s.tasks_done, s.tasks_done == 1 ? " task" : " tasks", ", model v", s.model_version));
  return parts;
}

}  // namespace

std::string FormatStatusLine(const WorkerStatus& status, absl::Time now, int columns) {
  if (columns <= 0) return "";
  const size_t width = static_cast<size_t>(columns);
  const std::vector<std::string> parts = Parts(status, now);
  std::string line = parts.front().substr(0, width);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (line.size() + kSeparator.size() + parts[i].size() > width) break;
    absl::StrAppend(&line, kSeparator, parts[i]);
  }
  return line;
}

}  // namespace tributary::worker
