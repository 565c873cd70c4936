// What the worker says about finished tasks. Written to a log (stderr is a
// file or pipe): one line per task. On a terminal, where a task every few
// milliseconds would scroll past unread: one summary line per interval,
// with the rate and mean loss over the tasks since the last line.
// Pure: the caller passes the time and prints what comes back.
#ifndef TRIBUTARY_WORKER_PROGRESS_H_
#define TRIBUTARY_WORKER_PROGRESS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace tributary::worker {

struct TaskReport {
  uint64_t task_id = 0;
  uint64_t shard_id = 0;
  uint32_t epoch = 0;
  double loss = 0;
  int64_t examples = 0;
  absl::Duration compute;
  int64_t sent_bytes = 0;
  uint64_t base_version = 0;
  uint64_t new_version = 0;
  bool applied = true;
  std::string budget;  // Where the time since the previous task went (FormatBudget).
};

class ProgressReporter {
 public:
  // `terminal`: summarise every `interval` instead of one line per task.
  ProgressReporter(bool terminal, absl::Duration interval);

  // Records a finished task; returns the line to print now, if any.
  std::optional<std::string> TaskDone(const TaskReport& report, absl::Time now);

 private:
  std::string TaskLine(const TaskReport& r) const;

  bool terminal_;
  absl::Duration interval_;
  // Since the last summary line.
  std::optional<absl::Time> since_;
  int64_t tasks_ = 0;
  int64_t examples_ = 0;
  double loss_sum_ = 0;
  int64_t total_tasks_ = 0;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_PROGRESS_H_
