// The display's policy and the state it draws from; never started, so it
// draws nothing (the line itself: status_line_test.cc; on a real terminal:
// tests/e2e/tmux_test.cc).
#include "worker/display.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

tributary::v1::Task Task(uint64_t id, absl::Time deadline) {
  tributary::v1::Task task;
  task.set_task_id(id);
  task.set_shard_id(id + 100);
  task.set_lease_deadline_unix_s(absl::ToDoubleSeconds(deadline - absl::UnixEpoch()));
  return task;
}

LossStats Loss(double mean, int64_t examples) {
  LossStats stats;
  stats.loss_sum = mean * examples;
  stats.examples = examples;
  return stats;
}

TEST(DisplayTest, AStatusLineOnlyOnATerminalThatCanDrawOne) {
  EXPECT_EQ(ChooseDisplayMode(true, "xterm-256color", false), DisplayMode::kStatusLine);
  EXPECT_EQ(ChooseDisplayMode(true, "screen", false), DisplayMode::kStatusLine);
  EXPECT_EQ(ChooseDisplayMode(true, "dumb", false), DisplayMode::kLines);
  EXPECT_EQ(ChooseDisplayMode(true, nullptr, false), DisplayMode::kLines);
  EXPECT_EQ(ChooseDisplayMode(true, "", false), DisplayMode::kLines);
  EXPECT_EQ(ChooseDisplayMode(false, "xterm", false), DisplayMode::kLines);
  EXPECT_EQ(ChooseDisplayMode(true, "xterm", true), DisplayMode::kQuiet);
  EXPECT_EQ(ChooseDisplayMode(false, "xterm", true), DisplayMode::kQuiet);
}

TEST(DisplayTest, TaskLinesInLogsAndWithVerboseOnly) {
  EXPECT_TRUE(Display({DisplayMode::kLines, false}).task_lines());
  EXPECT_TRUE(Display({DisplayMode::kLines, true}).task_lines());
  EXPECT_FALSE(Display({DisplayMode::kStatusLine, false}).task_lines());
  EXPECT_TRUE(Display({DisplayMode::kStatusLine, true}).task_lines());
  EXPECT_FALSE(Display({DisplayMode::kQuiet, false}).task_lines());
}

TEST(DisplayTest, AStatusLineLogsOnlyTheFirstRetryOfAnOutage) {
  Display display({DisplayMode::kStatusLine, false});
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(1)));
  EXPECT_FALSE(display.Unreachable(kT0 + absl::Seconds(3)));  // The line counts this one down.
  display.Reachable();
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(10)));  // The next outage.
}

TEST(DisplayTest, BusyAfterUnreachableIsNews) {
  Display display({DisplayMode::kStatusLine, false});
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(1)));
  EXPECT_TRUE(display.Busy(kT0 + absl::Seconds(2)));
  EXPECT_TRUE(display.Status().busy);
  EXPECT_FALSE(display.Busy(kT0 + absl::Seconds(4)));
  display.Reachable();
  EXPECT_FALSE(display.Status().retry_at.has_value());
}

TEST(DisplayTest, VerboseLogsEveryRetry) {
  Display display({DisplayMode::kStatusLine, true});
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(1)));
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(3)));
}

TEST(DisplayTest, ALogGetsEveryRetry) {
  Display display({DisplayMode::kLines, false});
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(1)));
  EXPECT_TRUE(display.Unreachable(kT0 + absl::Seconds(3)));
  EXPECT_EQ(display.Status().retry_at, kT0 + absl::Seconds(3));
  display.Reachable();
  EXPECT_FALSE(display.Status().retry_at.has_value());
}

TEST(DisplayTest, StepsLossAndUploadReachTheStatus) {
  Display display({DisplayMode::kLines, false});
  display.TaskStarted(Task(7, kT0 + absl::Seconds(30)), kT0);
  EXPECT_EQ(display.Status().task_id, 7u);
  EXPECT_EQ(display.Status().shard_id, 107u);
  EXPECT_EQ(display.Status().steps, 0);
  display.StepDone(2, 4, Loss(1.5, 8));
  display.UploadStarted(1000);
  display.UploadProgress(600);
  const WorkerStatus s = display.Status();
  EXPECT_EQ(s.step, 2);
  EXPECT_EQ(s.steps, 4);
  EXPECT_DOUBLE_EQ(*s.loss, 1.5);
  EXPECT_EQ(s.upload_sent, 600);
  EXPECT_EQ(s.upload_total, 1000);
  display.UploadEnded();
  EXPECT_EQ(display.Status().upload_total, 0);
}

TEST(DisplayTest, ATaskEndsOnlyItself) {
  Display display({DisplayMode::kLines, false});
  display.TaskStarted(Task(7, kT0 + absl::Seconds(30)), kT0);
  display.TaskEnded(6);  // An overlapped round's task, settled while 7 computes.
  EXPECT_EQ(display.Status().task_id, 7u);
  display.TaskEnded(7);
  EXPECT_EQ(display.Status().task_id, 0u);
}

TEST(DisplayTest, ADoneTaskCountsAndMeansTheCoordinatorAnswered) {
  Display display({DisplayMode::kLines, false});
  display.Unreachable(kT0 + absl::Seconds(5));
  display.TaskDone(12);
  display.TaskDone(11);  // An older version, answered late.
  const WorkerStatus s = display.Status();
  EXPECT_EQ(s.tasks_done, 2);
  EXPECT_EQ(s.model_version, 12u);
  EXPECT_FALSE(s.retry_at.has_value());
}

// Heartbeats push every lease the worker holds to (their time) + the lease's length.
TEST(DisplayTest, TheLeaseRunsFromItsGrantOrItsLastRenewal) {
  Display display({DisplayMode::kLines, false});
  display.LeasesRenewed(kT0 - absl::Seconds(5));  // Before this task was leased: renews nothing of it.
  display.TaskStarted(Task(7, kT0 + absl::Seconds(30)), kT0);
  EXPECT_EQ(display.Status().lease_deadline, kT0 + absl::Seconds(30));
  display.LeasesRenewed(kT0 + absl::Seconds(10));
  EXPECT_EQ(display.Status().lease_deadline, kT0 + absl::Seconds(40));
  display.LeasesRenewed(kT0 + absl::Seconds(8));  // An older heartbeat answered late.
  EXPECT_EQ(display.Status().lease_deadline, kT0 + absl::Seconds(40));
}

// A new session (a coordinator restarted from a checkpoint) renewed nothing
// yet, and its model versions may be behind the last session's.
TEST(DisplayTest, JoiningForgetsRenewalsAndVersionsAndSetsTheRateUnit) {
  Display display({DisplayMode::kLines, false});
  display.TaskDone(99);
  display.LeasesRenewed(kT0 + absl::Seconds(10));
  tributary::v1::ModelSpec gpt;
  gpt.mutable_gpt()->set_context(64);
  display.Joined(gpt);
  display.TaskDone(80);
  EXPECT_EQ(display.Status().model_version, 80u);
  display.TaskStarted(Task(7, kT0 + absl::Seconds(30)), kT0);
  EXPECT_EQ(display.Status().lease_deadline, kT0 + absl::Seconds(30));
  EXPECT_EQ(display.Status().rate_unit, "tok/s");
  display.Joined(tributary::v1::ModelSpec());
  EXPECT_EQ(display.Status().rate_unit, "ex/s");
}

}  // namespace
}  // namespace tributary::worker
