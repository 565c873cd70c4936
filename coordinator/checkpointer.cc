#include "coordinator/checkpointer.h"

#include <algorithm>
#include <utility>

#include "common/checkpoint.h"
#include "common/log.h"

namespace tributary::coordinator {
Checkpointer::Checkpointer(TrainingRun& run, std::string state_dir, Clock& clock, CheckpointFence fence)
    : run_(run),
      state_dir_(std::move(state_dir)),
      clock_(clock),
      fence_(std::move(fence)),
      last_time_(clock.Now()),
      last_(run.Progress()) {}

std::optional<std::string> Checkpointer::MaybeWrite() {
  if (state_dir_.empty()) return std::nullopt;
  const tributary::v1::CheckpointSpec& spec = run_.job().checkpoint();
  const RunProgress now = run_.Progress();
  const bool by_versions =
      spec.interval_versions() > 0 && now.version >= last_->version + static_cast<uint64_t>(spec.interval_versions());
  const bool by_time = clock_.Now() >= last_time_ + absl::Seconds(spec.interval_s());
  return by_versions || by_time ? Write() : std::nullopt;
}

std::optional<std::string> Checkpointer::Write() {
  if (state_dir_.empty()) return std::nullopt;
  const absl::Time start = clock_.Now();
  last_time_ = start;
  // Read before the checkpoint is made: what moves in between is written
  // again next time rather than missed.
  const RunProgress progress = run_.Progress();
  if (last_ && progress == *last_) return std::nullopt;  // Nothing new since the last one.
  if (fence_.may_write && !fence_.may_write()) {
    TLOG(WARNING) << "checkpoint skipped: this coordinator no longer leads";
    return std::nullopt;
  }
  const tributary::v1::Checkpoint checkpoint = run_.MakeCheckpoint();
  absl::StatusOr<std::string> path = WriteCheckpoint(state_dir_, checkpoint);
  if (!path.ok()) {
    TLOG(ERROR) << "checkpoint failed: " << path.status().message();
    return std::nullopt;
  }
  last_ = progress;
  if (fence_.written) fence_.written(*path, checkpoint.model_version());
  const auto& items = checkpoint.run().ledger().items();
  const int64_t done = std::count_if(items.begin(), items.end(), [](const auto& item) {
    return item.state() == tributary::v1::LedgerItemState::DONE;
  });
  TLOG(INFO) << "checkpoint " << *path << ": version " << checkpoint.model_version() << ", " << done << "/"
             << items.size() << " shards done (" << clock_.Now() - start << ")";
  return *path;
}

}  // namespace tributary::coordinator
