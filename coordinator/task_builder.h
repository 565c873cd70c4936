// A Task message from a lease: which shard, from which model version, and
// where the worker's local steps stand in the run's inner learning-rate
// schedule. The model's digest is left out: the run sets it outside its
// lock (hashing a version takes a while, once per version).
//
// A task's local steps continue the run's inner schedule where the model it
// starts from stands: a version stands for the updates_per_version tasks
// that made it, local_steps steps each (TrainingRun::InnerScheduleSteps).
//
// Pure.
#ifndef TRIBUTARY_COORDINATOR_TASK_BUILDER_H_
#define TRIBUTARY_COORDINATOR_TASK_BUILDER_H_

#include <cstdint>
#include <optional>

#include "coordinator/dataset.h"
#include "coordinator/ledger.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::coordinator {

struct TaskSchedule {
  int local_steps = 1;
  int updates_per_version = 1;  // aggregation.buffer_size, or a SYNC round.
  // Under a time budget: the schedule's current estimate, in versions.
  std::optional<int64_t> total_versions;
};

// Examples per local step of a task over a shard of `shard_examples`
// (ceil: the last step may have fewer). The largest, over the largest
// shard, is what a worker's (and the evaluation's) activation arena holds.
int BatchExamples(int shard_examples, int local_steps);

tributary::v1::Task BuildTask(const Lease& lease, const Shard& shard, uint64_t model_version, uint64_t model_bytes,
                              const TaskSchedule& schedule);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_TASK_BUILDER_H_
