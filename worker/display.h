// What the worker shows while it runs (SPEC §3):
// - stderr a terminal (TERM set and not "dumb"): one status line
//   (status_line.h) redrawn in place a few times a second by a thread of its
//   own, with the log's lines printed above it (common/log.h);
// - anywhere else (a log file, a pipe, a service manager): one log line per
//   finished task (progress.h), and a warning for every retry;
// - --quiet: neither; warnings, errors and the final summary only;
// - --verbose: the per-task lines on a terminal too, every retry, and a line
//   per download.
//
// The worker's threads report events here: the training loop once per local
// step, the upload once per chunk, the heartbeat thread once per heartbeat.
// Each takes one short lock and copies a few numbers; formatting and drawing
// happen on the display's thread. Thread-safe.
#ifndef TRIBUTARY_WORKER_DISPLAY_H_
#define TRIBUTARY_WORKER_DISPLAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/models/model.h"
#include "tributary/v1/coordinator.pb.h"
#include "common/rate_window.h"
#include "worker/status_line.h"

namespace tributary::worker {

enum class DisplayMode { kLines, kStatusLine, kQuiet };

// The mode for a stderr that is (or is not) a terminal whose TERM is `term`
// (null: unset); --quiet wins.
DisplayMode ChooseDisplayMode(bool stderr_is_terminal, const char* term, bool quiet);

struct DisplayOptions {
  DisplayMode mode = DisplayMode::kLines;
  bool verbose = false;
  absl::Duration redraw_interval = absl::Milliseconds(250);
};

class Display {
 public:
  explicit Display(const DisplayOptions& options);
  ~Display();  // Finish().
  Display(const Display&) = delete;
  Display& operator=(const Display&) = delete;

  // On a terminal (DisplayMode::kStatusLine), starts drawing the status
  // line; otherwise nothing. Call once.
  void Start();

  // What the worker logs.
  bool task_lines() const;  // A line per finished task.
  bool verbose() const { return options_.verbose; }

  // Events.
  // What the worker does between tasks ("joining HOST", "waiting for a task").
  void SetActivity(std::string activity);
  // Joined a job training `model`: its throughput counts tokens (a GPT) or
  // examples; model versions are the new session's.
  void Joined(const tributary::v1::ModelSpec& model);
  // Computing starts on `task`, leased at `leased_at` (its lease is as long
  // as its deadline was from then).
  void TaskStarted(const tributary::v1::Task& task, absl::Time leased_at);
  // Local step `step` of `steps` of the current task is done.
  void StepDone(int64_t step, int64_t steps, const LossStats& stats);
  // `task_id` is no longer computed (its update left, or it was dropped).
  void TaskEnded(uint64_t task_id);
  // An update of `bytes` starts uploading; `sent` of them have left; it is
  // over (sent or failed).
  void UploadStarted(int64_t bytes);
  void UploadProgress(int64_t sent);
  void UploadEnded();
  // The coordinator answered a submit with `model_version`.
  void TaskDone(uint64_t model_version);
  // A heartbeat sent at `sent_at` was answered: the coordinator pushed
  // every lease this worker holds to then + the lease's length.
  void LeasesRenewed(absl::Time sent_at);
  // The coordinator cannot be reached; the worker tries again at
  // `retry_at`. Returns whether to log this retry: always in a log and with
  // --verbose, on a status line only the first of an outage (the line
  // counts down the others).
  bool Unreachable(absl::Time retry_at);
  // The same for a coordinator that answered but refused for now (over a limit).
  bool Busy(absl::Time retry_at);
  // The coordinator answered.
  void Reachable();

  // Draws the line a last time and ends it with a newline; log lines print
  // below it from then on. Idempotent.
  void Finish();

  // The state the line is drawn from (without the rate).
  WorkerStatus Status();

 private:
  void RedrawLoop();
  void Draw(absl::Time now, WorkerStatus status, int64_t units);
  WorkerStatus StatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool RetryingLocked(absl::Time retry_at, bool busy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const DisplayOptions options_;
  // Used by the redraw thread, then by Finish once that has stopped.
  RateWindow rate_;
  std::thread redraw_;

  absl::Mutex mu_;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  WorkerStatus status_ ABSL_GUARDED_BY(mu_);
  int64_t units_per_example_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t units_ ABSL_GUARDED_BY(mu_) = 0;  // Tokens or examples trained on.
  absl::Time leased_at_ ABSL_GUARDED_BY(mu_);
  absl::Duration lease_length_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> renewed_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_DISPLAY_H_
