#include "coordinator/task_builder.h"

#include "common/sha256.h"

namespace tributary::coordinator {

int BatchExamples(int shard_examples, int local_steps) {
  return (shard_examples + local_steps - 1) / local_steps;
}

tributary::v1::Task BuildTask(const Lease& lease, const Shard& shard, uint64_t model_version, uint64_t model_bytes,
                              const TaskSchedule& schedule) {
  tributary::v1::Task task;
  task.set_task_id(lease.task_id);
  task.set_shard_id(lease.shard);
  task.set_epoch(lease.epoch);
  task.set_shard_sha256(DigestBytes(shard.sha256));
  task.set_shard_bytes(shard.bytes);
  task.set_shard_examples(shard.examples);
  task.set_base_version(model_version);
  task.set_model_bytes(model_bytes);
  const uint64_t steps_per_version = static_cast<uint64_t>(schedule.updates_per_version) * schedule.local_steps;
  task.set_local_steps(schedule.local_steps);
  task.set_batch_examples(BatchExamples(shard.examples, schedule.local_steps));
  task.set_schedule_step(model_version * steps_per_version);
  if (schedule.total_versions) task.set_schedule_total_steps(*schedule.total_versions * steps_per_version);
  task.set_lease_deadline_unix_s(absl::ToDoubleSeconds(lease.deadline - absl::UnixEpoch()));
  return task;
}

}  // namespace tributary::coordinator
