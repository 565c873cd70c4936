#include "worker/progress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TaskReport Report(uint64_t id, double loss) {
  TaskReport r;
  r.task_id = id;
  r.loss = loss;
  r.examples = 100;
  r.compute = absl::Milliseconds(10);
  r.sent_bytes = 2048;
  r.new_version = id;
  return r;
}

TEST(ProgressTest, LogsGetOneLinePerTask) {
  ProgressReporter progress(/*terminal=*/false, absl::Seconds(1));
  const auto line = progress.TaskDone(Report(7, 0.5), kT0);
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, HasSubstr("task 7 "));
  EXPECT_THAT(*line, HasSubstr("loss 0.5000 over 100 examples in 10 ms (10000 ex/s); sent 2 KiB"));
  EXPECT_TRUE(progress.TaskDone(Report(8, 0.5), kT0).has_value());
}

TEST(ProgressTest, TerminalsGetASummaryPerInterval) {
  ProgressReporter progress(/*terminal=*/true, absl::Seconds(1));
  EXPECT_FALSE(progress.TaskDone(Report(1, 1.0), kT0).has_value());
  EXPECT_FALSE(progress.TaskDone(Report(2, 2.0), kT0 + absl::Milliseconds(500)).has_value());
  const auto line = progress.TaskDone(Report(3, 3.0), kT0 + absl::Seconds(2));
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, HasSubstr("3 tasks done (last: task 3"));
  EXPECT_THAT(*line, HasSubstr("150 examples/s"));  // 300 examples over 2 s
  EXPECT_THAT(*line, HasSubstr("mean loss 2.0000"));
  EXPECT_FALSE(progress.TaskDone(Report(4, 1.0), kT0 + absl::Milliseconds(2500)).has_value());
}

}  // namespace
}  // namespace tributary::worker
