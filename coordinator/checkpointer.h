// Decides when the run is written to --state_dir and writes it: every
// checkpoint.interval_s seconds or interval_versions model versions,
// whichever comes first, and on request (shutdown). A run that has not
// moved since the last checkpoint is not written again.
//
// Called from one thread (the coordinator's main loop). Time comes from
// the injected Clock.
#ifndef TRIBUTARY_COORDINATOR_CHECKPOINTER_H_
#define TRIBUTARY_COORDINATOR_CHECKPOINTER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "coordinator/run.h"

namespace tributary::coordinator {

// What a coordinator among several (coordinator/failover.h) adds around
// each write: whether it may write at all (it still leads), and recording
// the file written as the one to resume from.
struct CheckpointFence {
  std::function<bool()> may_write;
  std::function<void(const std::string& path, uint64_t version)> written;
};

class Checkpointer {
 public:
  // `run` and `clock` are borrowed. An empty `state_dir` writes nothing.
  Checkpointer(TrainingRun& run, std::string state_dir, Clock& clock, CheckpointFence fence = {});

  // Writes a checkpoint when an interval has passed and the run moved
  // since the last one. Returns the new file's path, if one was written.
  std::optional<std::string> MaybeWrite();

  // Writes one now (unless the run has not moved since the last one);
  // logs failures, which never stop the run.
  std::optional<std::string> Write();

 private:
  TrainingRun& run_;
  const std::string state_dir_;
  Clock& clock_;
  const CheckpointFence fence_;
  absl::Time last_time_;
  std::optional<RunProgress> last_;  // Of the last checkpoint written or resumed.
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_CHECKPOINTER_H_
