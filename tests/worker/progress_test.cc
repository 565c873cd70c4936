#include "worker/progress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

TaskReport Report(uint64_t id, double loss) {
  TaskReport r;
  r.task_id = id;
  r.shard_id = 3;
  r.loss = loss;
  r.examples = 100;
  r.compute = absl::Milliseconds(10);
  r.sent_bytes = 2048;
  r.base_version = id - 1;
  r.new_version = id;
  return r;
}

TEST(ProgressTest, OneLinePerTask) {
  TaskReport r = Report(7, 0.5);
  r.budget = "compute 10 ms";
  EXPECT_EQ(TaskLine(r),
            "task 7 (shard 3, epoch 0): loss 0.5000 over 100 examples in 10 ms (10000 ex/s); sent 2 KiB; "
            "model v6 -> v7; compute 10 ms");
}

TEST(ProgressTest, ADuplicateSaysSo) {
  TaskReport r = Report(7, 0.5);
  r.applied = false;
  EXPECT_THAT(TaskLine(r), ::testing::EndsWith("model v6 -> v7 (duplicate, already applied)"));
}

TEST(ProgressTest, TheSummaryAddsUpTheRun) {
  RunSummary summary;
  EXPECT_EQ(summary.Line(), "0 tasks (0 examples, 0 of compute, 0 KiB sent)");
  summary.Add(Report(1, 1.0));
  EXPECT_EQ(summary.Line(), "1 task (100 examples, 10ms of compute, 2 KiB sent), last loss 1.0000");
  for (int i = 2; i <= 1000; ++i) summary.Add(Report(i, 0.25));
  EXPECT_EQ(summary.Line(), "1000 tasks (100000 examples, 10s of compute, 2.0 MiB sent), last loss 0.2500");
}

}  // namespace
}  // namespace tributary::worker
