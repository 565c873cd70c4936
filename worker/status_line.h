// The worker's terminal status line, as text: what the worker is doing now,
// from a plain snapshot of its state and the time. Pure; the display
// (worker/display.h) keeps the state and draws the line.
//
//   task 41 (shard 7) step 3/8 | 5.2k tok/s | loss 2.3412 | upload 0.4/1.6 MiB | lease 27 s | 12 tasks, model v118
//   coordinator unreachable, retrying in 7 s | task 41 (shard 7) step 8/8 | ... | lease 12 s | 12 tasks, model v118
//   coordinator busy, retrying in 1 s | ...
#ifndef TRIBUTARY_WORKER_STATUS_LINE_H_
#define TRIBUTARY_WORKER_STATUS_LINE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace tributary::worker {

struct WorkerStatus {
  // What the worker does when it is not computing a task ("joining HOST",
  // "waiting for a task", "done").
  std::string activity;
  // The task being computed; 0: none.
  uint64_t task_id = 0;
  uint64_t shard_id = 0;
  int64_t step = 0;   // Local steps done,
  int64_t steps = 0;  // of this many (0: not known yet).
  // When the task's lease runs out unless a heartbeat renews it.
  std::optional<absl::Time> lease_deadline;
  // The last step's mean loss.
  std::optional<double> loss;
  // Training throughput over a recent window, in `rate_unit`s.
  std::optional<double> rate;
  std::string rate_unit = "ex/s";
  // An update on its way to the coordinator (total 0: none).
  int64_t upload_sent = 0;
  int64_t upload_total = 0;
  int64_t tasks_done = 0;
  uint64_t model_version = 0;
  // Set while the coordinator cannot be reached, or is busy (it answered
  // but refused for now, over a limit): when the worker tries again.
  std::optional<absl::Time> retry_at;
  bool busy = false;
};

// The status line at `now`, at most `columns` characters wide (ASCII only,
// so characters are columns). Parts go in order of importance and whole
// parts are dropped from the end to fit; the first is cut if need be.
std::string FormatStatusLine(const WorkerStatus& status, absl::Time now, int columns);


}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_STATUS_LINE_H_
