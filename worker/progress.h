// What the worker says about finished tasks in its log: one line per task
// (where the log is a file or pipe, or with --verbose), and a summary of the
// whole run when it leaves. Pure.
#ifndef TRIBUTARY_WORKER_PROGRESS_H_
#define TRIBUTARY_WORKER_PROGRESS_H_

#include <cstdint>
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

// "task 7 (shard 3, epoch 0): loss 0.5000 over 100 examples in 10 ms
// (10000 ex/s); sent 2 KiB; model v6 -> v7; compute 10 ms, ...".
std::string TaskLine(const TaskReport& report);

// The run so far, for the line a worker prints when it leaves.
class RunSummary {
 public:
  void Add(const TaskReport& report);
  // "12 tasks (1536 examples, 1.234s of compute, 9.6 MiB sent), last loss 0.4123".
  std::string Line() const;

 private:
  int64_t tasks_ = 0;
  int64_t examples_ = 0;
  absl::Duration compute_;
  int64_t sent_bytes_ = 0;
  double last_loss_ = 0;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_PROGRESS_H_
