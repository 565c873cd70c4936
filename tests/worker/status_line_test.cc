#include "worker/status_line.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow = absl::UnixEpoch() + absl::Hours(1);

WorkerStatus Training() {
  WorkerStatus s;
  s.task_id = 41;
  s.shard_id = 7;
  s.step = 3;
  s.steps = 8;
  s.rate = 5234;
  s.rate_unit = "tok/s";
  s.loss = 2.34123;
  s.upload_sent = 400 << 10;
  s.upload_total = 1600 << 10;
  s.lease_deadline = kNow + absl::Seconds(27.5);
  s.tasks_done = 12;
  s.model_version = 118;
  return s;
}

TEST(StatusLineTest, TrainingShowsEverythingInOneLine) {
  EXPECT_EQ(FormatStatusLine(Training(), kNow, 200),
            "task 41 (shard 7) step 3/8 | 5.2k tok/s | loss 2.3412 | upload 0.4/1.6 MiB | lease 27 s | "
            "12 tasks, model v118");
}

TEST(StatusLineTest, UnreachableComesFirstAndCountsDown) {
  WorkerStatus s = Training();
  s.retry_at = kNow + absl::Seconds(6.2);
  EXPECT_THAT(FormatStatusLine(s, kNow, 200), StartsWith("coordinator unreachable, retrying in 7 s | task 41"));
  EXPECT_THAT(FormatStatusLine(s, kNow + absl::Seconds(5), 200),
              StartsWith("coordinator unreachable, retrying in 2 s"));
  EXPECT_THAT(FormatStatusLine(s, kNow + absl::Seconds(7), 200), StartsWith("coordinator unreachable, retrying now"));
}

TEST(StatusLineTest, ABusyCoordinatorIsNotCalledUnreachable) {
  WorkerStatus s = Training();
  s.retry_at = kNow + absl::Seconds(0.4);
  s.busy = true;
  EXPECT_THAT(FormatStatusLine(s, kNow, 200), StartsWith("coordinator busy, retrying in 1 s | task 41"));
}

TEST(StatusLineTest, UnreachableBetweenTasksHidesTheActivity) {
  WorkerStatus s;
  s.activity = "waiting for a task";
  s.retry_at = kNow + absl::Seconds(3);
  EXPECT_EQ(FormatStatusLine(s, kNow, 200), "coordinator unreachable, retrying in 3 s | 0 tasks, model v0");
}

TEST(StatusLineTest, BetweenTasksShowsTheActivity) {
  WorkerStatus s;
  s.activity = "joining 127.0.0.1:7070";
  s.tasks_done = 1;
  s.model_version = 3;
  EXPECT_EQ(FormatStatusLine(s, kNow, 200), "joining 127.0.0.1:7070 | 1 task, model v3");
}

TEST(StatusLineTest, ATaskBeforeItsFirstStepHasNoStepCount) {
  WorkerStatus s = Training();
  s.steps = 0;
  EXPECT_THAT(FormatStatusLine(s, kNow, 200), StartsWith("task 41 (shard 7) | "));
}

TEST(StatusLineTest, SmallUploadsInKibAndAnExpiredLease) {
  WorkerStatus s = Training();
  s.upload_sent = 12 << 10;
  s.upload_total = 800 << 10;
  s.lease_deadline = kNow - absl::Seconds(1);
  const std::string line = FormatStatusLine(s, kNow, 200);
  EXPECT_THAT(line, HasSubstr("| upload 12/800 KiB |"));
  EXPECT_THAT(line, HasSubstr("| lease expired |"));
}

TEST(StatusLineTest, ANarrowTerminalDropsWholePartsFromTheEnd) {
  EXPECT_EQ(FormatStatusLine(Training(), kNow, 60), "task 41 (shard 7) step 3/8 | 5.2k tok/s | loss 2.3412");
  EXPECT_EQ(FormatStatusLine(Training(), kNow, 10), "task 41 (s");
  EXPECT_EQ(FormatStatusLine(Training(), kNow, 0), "");
}

// The redraw relies on it: a line as wide as the terminal would wrap.
TEST(StatusLineTest, NeverWiderThanTheColumnsGiven) {
  WorkerStatus unreachable = Training();
  unreachable.retry_at = kNow + absl::Seconds(30);
  for (const WorkerStatus& s : {Training(), unreachable, WorkerStatus()}) {
    for (int columns = 0; columns <= 250; ++columns) {
      const std::string line = FormatStatusLine(s, kNow, columns);
      EXPECT_LE(line.size(), static_cast<size_t>(columns));
      EXPECT_THAT(line, Not(HasSubstr("\n")));
      EXPECT_THAT(line, Not(EndsWith(" |")));
    }
  }
}

}  // namespace
}  // namespace tributary::worker
