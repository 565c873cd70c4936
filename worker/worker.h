// The worker's main loop: join, then get a task, fetch its shard and model
// (unless cached by hash), compute the update, submit it; repeat until the
// job is done, --max_tasks is reached, or Stop() is called. Heartbeats run
// on their own thread while the loop computes. Losing the coordinator is
// normal: the loop backs off with jitter, rejoins and carries on.
//
// The loop is pipelined so that compute waits for the network as little as
// staleness allows (docs/ARCHITECTURE.md, "The worker's pipeline"):
// - while a task computes, the next one is leased and its shard fetched
//   (the lookahead), keeping the current lease;
// - after a submit, the next model is the version its reply names (the
//   newest, with this worker's own update in it), fetched at once as a
//   delta when the job allows, whatever older version the next task was
//   leased at;
// - with JobSpec.overlap (multi-step tasks), the update travels in the
//   background (the round: encode, submit, fetch the model that follows)
//   while the next task's local steps already run; when the round's model
//   arrives the local progress since the send is carried onto it.
// Every moment of the training thread is charged to one phase of a
// PhaseClock; each update carries the budget since the previous one.
// What the worker is doing goes to a Display (a status line on a terminal,
// a line per task in a log).
#ifndef TRIBUTARY_WORKER_WORKER_H_
#define TRIBUTARY_WORKER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/codec/codec.h"
#include "worker/attack.h"
#include "worker/backoff.h"
#include "worker/coordinator_api.h"
#include "worker/display.h"
#include "worker/payload_cache.h"
#include "worker/phase_clock.h"
#include "worker/progress.h"
#include "worker/slowdown.h"
#include "worker/timer.h"
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
  double slowdown = 1;  // Testing: F times slower (slowdown.h).
  Attack attack;  // Testing: a Byzantine worker.
  uint64_t seed = 0;  // Jitter of the backoff.
};

class Worker {
 public:
  // `client`, `timer` and `display` are borrowed and must outlive the
  // worker. Every wait and timestamp of the loop comes from `timer`, and
  // the backoff's jitter from options.seed.
  Worker(const WorkerOptions& options, CoordinatorApi& client, Timer& timer, Display& display);

  // Runs until the job is done, max_tasks are done, or Stop(). Returns an
  // error only for what retrying cannot fix (a refused join token, a job
  // this worker cannot run). Leaves cleanly, finishes the display and logs
  // a summary of the run before returning.
  absl::Status Run();

  // Makes Run() return soon; safe from any thread.
  void Stop();

 private:
  enum class Outcome { kContinue, kJobDone };

  // A model version's exact weights (or as exact as a delta makes them).
  struct Global {
    uint64_t version = 0;
    std::shared_ptr<const std::string> bytes;  // Null: none yet.
    absl::Span<const float> params() const;
  };
  // An answer to GetTask, with the task's shard when it holds a task.
  struct Fetched {
    tributary::v1::GetTaskResponse response;
    absl::Time answered;  // When the coordinator answered: the task's lease runs from then.
    std::shared_ptr<const std::string> shard;
  };
  // What a finished round brings back.
  struct RoundResult {
    tributary::v1::SubmitUpdateResponse reply;
    Global global;  // The version the reply names, unless model_error.
    absl::Status model_error;
    int64_t sent_bytes = 0;
  };
  // An overlapped update on its way (JobSpec.overlap).
  struct Round {
    tributary::v1::Task task;
    uint64_t base_version;  // The anchor's: the update is measured from it. (No initializer: clang
                            // cannot default-construct a nested struct with one inside optional<>.)
    LossStats stats;
    absl::Duration compute;
    tributary::v1::TimeBudget budget;  // Sent with it.
    std::vector<float> sent;  // The local weights when the update left.
    std::future<absl::StatusOr<RoundResult>> result;
  };

  absl::Status JoinWithRetries();
  Outcome NextTask();
  // GetTask keeping `keep`, then the task's shard.
  absl::StatusOr<Fetched> FetchTask(std::vector<uint64_t> keep);
  // The task of the round in flight, if any.
  std::vector<uint64_t> InFlight() const;
  // Starts leasing the task after `task` in the background.
  void StartLookahead(const tributary::v1::Task& task);
  // Plain tasks: model, compute, encode, submit.
  absl::Status RunTask(const tributary::v1::Task& task, const std::string& shard);
  // Overlapped multi-step tasks.
  absl::Status RunOverlapped(const tributary::v1::Task& task, const std::string& shard);
  // Undoes the local steps of `task`, revoked mid-way, and lets it go.
  absl::Status DropSteps(const tributary::v1::Task& task);
  // Takes in the finished round: rebases onto its model, or reports why
  // its update was not applied.
  absl::Status SettleRound();
  // Waits for the round in flight, if any, and settles it.
  absl::Status FinishRound();
  // Waits for the background work and drops what it did not finish.
  void DrainPipeline();
  // The model `task` is computed on: the newest version this worker knows
  // of (its last submit's reply) when the coordinator still serves it,
  // else the task's base version. As a delta from the last whole download
  // when the job allows, else whole.
  absl::StatusOr<Global> ModelFor(const tributary::v1::Task& task);
  // Version `version` (digest `sha256`, or named by the stream when empty).
  absl::StatusOr<std::shared_ptr<const std::string>> FetchModel(uint64_t version, const std::string& sha256);
  // The payload with this digest from `cache`, else fetched and stored there.
  absl::StatusOr<std::shared_ptr<const std::string>> Payload(
      const std::string& what, const std::string& sha256, PayloadCache& cache,
      const std::function<absl::StatusOr<std::string>()>& fetch);
  // Uploads an update, its progress shown on the display.
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> Submit(const tributary::v1::UpdateHeader& header,
                                                              const std::string& payload, absl::Duration* upload);
  // With --verbose, a line per download.
  void LogDownload(absl::string_view what, size_t bytes, absl::Time start);
  tributary::v1::UpdateHeader HeaderFor(const tributary::v1::Task& task, uint64_t base_version,
                                        const LossStats& stats);
  void ReportDone(const tributary::v1::Task& task, uint64_t base_version, const LossStats& stats,
                  absl::Duration compute, int64_t sent_bytes, const tributary::v1::SubmitUpdateResponse& reply,
                  const tributary::v1::TimeBudget& budget);
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
  // Testing: waits out the task delay and the slowdown of a task that
  // computed for `compute` using `cpu` of CPU time (slowdown.h); returns
  // the time waited (counted as compute).
  absl::Duration Throttle(absl::Duration compute, absl::Duration cpu);
  bool stopped();
  // Leases this worker holds, for heartbeats; revoked ones are remembered.
  void Hold(uint64_t task_id);
  void Release(uint64_t task_id);
  bool Revoked(uint64_t task_id);

  const WorkerOptions options_;
  CoordinatorApi& client_;
  Timer& timer_;
  Display& display_;
  Backoff backoff_;
  absl::Mutex shards_mu_;  // The lookahead fetches shards beside the loop.
  PayloadCache shards_ ABSL_GUARDED_BY(shards_mu_);  // Reused every epoch: memory and --cache_dir.
  // A new version nearly every task: the latest in memory, a few on disk.
  // Used by the loop, or by the round while one is in flight, never both.
  PayloadCache models_;
  RunSummary summary_;
  PhaseClock phases_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<Codec> codec_;
  std::unique_ptr<Encoder> encoder_;  // Uses codec_.
  std::string encoder_key_;           // The model and codec specs encoder_ was made for.
  bool model_deltas_ = false;         // The job's codec.model_deltas.
  bool overlap_ = false;              // The job's overlap.
  Global delta_base_;                 // The last whole download: deltas apply to it exactly.
  uint64_t newest_version_ = 0;       // From the last submit's reply.
  std::vector<float> update_;         // The update being computed, sized once per model.
  Attacker attacker_;
  bool joined_ = false;
  std::atomic<int64_t> tasks_done_{0};

  // The pipeline.
  std::future<absl::StatusOr<Fetched>> lookahead_;
  std::optional<Round> round_;
  Global anchor_;  // Overlap: the global model the local progress is measured from.

  std::atomic<uint64_t> current_task_{0};
  std::atomic<bool> session_lost_{false};

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeats_on_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(2);
  absl::flat_hash_set<uint64_t> held_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> revoked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_WORKER_H_
