#include "coordinator/task_builder.h"

#include "common/sha256.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

TEST(TaskBuilderTest, CarriesTheLeaseShardModelAndInnerSchedule) {
  Shard shard;
  shard.bytes = 4000;
  shard.examples = 10;
  shard.sha256 = Sha256("shard");
  Lease lease{/*task_id=*/7, /*epoch=*/2, /*shard=*/3, absl::UnixEpoch() + absl::Seconds(100)};
  TaskSchedule schedule;
  schedule.local_steps = 4;
  schedule.updates_per_version = 3;
  tributary::v1::Task task = BuildTask(lease, shard, /*model_version=*/5, /*model_bytes=*/123, schedule);
  EXPECT_EQ(task.task_id(), 7u);
  EXPECT_EQ(task.epoch(), 2u);
  EXPECT_EQ(task.shard_id(), 3u);
  EXPECT_EQ(task.shard_sha256(), DigestBytes(shard.sha256));
  EXPECT_EQ(task.shard_bytes(), 4000u);
  EXPECT_EQ(task.shard_examples(), 10u);
  EXPECT_EQ(task.base_version(), 5u);
  EXPECT_EQ(task.model_bytes(), 123u);
  EXPECT_TRUE(task.model_sha256().empty()) << "set by the run, outside its lock";
  EXPECT_EQ(task.local_steps(), 4u);
  EXPECT_EQ(task.batch_examples(), 3u) << "ceil(10 / 4)";
  EXPECT_EQ(task.schedule_step(), 5u * 3 * 4) << "version x updates per version x local steps";
  EXPECT_EQ(task.schedule_total_steps(), 0u) << "no time budget: the worker uses the run's";
  EXPECT_DOUBLE_EQ(task.lease_deadline_unix_s(), 100.0);

  schedule.total_versions = 50;
  EXPECT_EQ(BuildTask(lease, shard, 5, 123, schedule).schedule_total_steps(), 50u * 3 * 4);
}

}  // namespace
}  // namespace tributary::coordinator
