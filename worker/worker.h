// The worker's main loop: join, then get a task, fetch its shard and model
// (unless cached by hash), compute the update, submit it; repeat until the
// job is done, --max_tasks is reached, or Stop() is called. Heartbeats run
// on their own thread while the loop computes. Losing the coordinator is
// normal: the loop backs off with jitter, rejoins and carries on.
#ifndef TRIBUTARY_WORKER_WORKER_H_
#define TRIBUTARY_WORKER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/codec/codec.h"
#include "worker/attack.h"
#include "worker/backoff.h"
#include "worker/client.h"
#include "worker/payload_cache.h"
#include "worker/progress.h"
#include "worker/trainer.h"

namespace tributary::worker {

struct WorkerOptions {
  std::string coordinator;  // HOST:PORT, for messages.
  std::string name;
  std::string device = "cpu";
  int threads = 1;
  std::string join_token;
  std::string cache_dir;
  int64_t max_tasks = 0;  // 0: until the job ends.
  absl::Duration task_delay = absl::ZeroDuration();  // Testing: a slow device.
  Attack attack;  // Testing: a Byzantine worker.
  bool terminal = false;  // stderr is a terminal: summarise progress.
  uint64_t seed = 0;  // Jitter of the backoff.
};

class Worker {
 public:
  // `client` is borrowed and must outlive the worker.
  Worker(const WorkerOptions& options, CoordinatorClient& client);

  // Runs until the job is done, max_tasks are done, or Stop(). Returns an
  // error only for what retrying cannot fix (a refused join token, a job
  // this worker cannot run). Leaves cleanly before returning.
  absl::Status Run();

  // Makes Run() return soon; safe from any thread.
  void Stop();

 private:
  enum class Outcome { kContinue, kJobDone };

  absl::Status JoinWithRetries();
  Outcome NextTask();
  absl::Status RunTask(const tributary::v1::Task& task);
  // The task's base model: as a delta from the last whole download when the
  // job allows and the coordinator still has that version, else whole.
  absl::StatusOr<std::shared_ptr<const std::string>> ModelFor(const tributary::v1::Task& task);
  // The payload with this digest from `cache`, else fetched and stored there.
  absl::StatusOr<std::shared_ptr<const std::string>> Payload(
      const std::string& what, const std::string& sha256, PayloadCache& cache,
      const std::function<absl::StatusOr<std::string>()>& fetch);
  // Reacts to a failed call: rejoin, back off, or skip the task.
  void Recover(const absl::Status& error, absl::string_view during);
  // How long to wait before joining again after `error`: the next backoff,
  // or longer when the coordinator asked for it (RetryHint).
  absl::Duration RetryDelay(const absl::Status& error);
  void HeartbeatLoop();
  // Returns once the coordinator can be reached again, after `timeout`, or
  // when stopped, whichever comes first.
  void WaitForCoordinator(absl::Duration timeout);
  // Sleeps for `d` unless stopped first; returns whether stopped.
  bool SleepUnlessStopped(absl::Duration d);
  bool stopped();

  const WorkerOptions options_;
  CoordinatorClient& client_;
  Backoff backoff_;
  PayloadCache shards_;  // Reused every epoch: memory and --cache_dir.
  PayloadCache models_;  // A new version nearly every task: the latest in memory, a few on disk.
  ProgressReporter progress_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<Codec> codec_;
  std::unique_ptr<Encoder> encoder_;  // Uses codec_.
  std::string encoder_key_;           // The model and codec specs encoder_ was made for.
  bool model_deltas_ = false;         // The job's codec.model_deltas.
  struct {
    uint64_t version = 0;
    std::shared_ptr<const std::string> bytes;  // Exact weights; null before the first download.
  } delta_base_;
  std::vector<float> update_;  // The update being computed, sized once per model.
  Attacker attacker_;
  bool joined_ = false;
  int64_t tasks_done_ = 0;

  std::atomic<uint64_t> current_task_{0};
  std::atomic<uint64_t> revoked_task_{0};
  std::atomic<bool> session_lost_{false};

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeats_on_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(2);
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_WORKER_H_
