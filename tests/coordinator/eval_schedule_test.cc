#include "coordinator/eval_schedule.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

TEST(EvalScheduleTest, EveryIntervalOneAtATimeThenTheFinalOne) {
  EvalSchedule schedule(10);
  EXPECT_FALSE(schedule.Due(9, false));
  EXPECT_TRUE(schedule.Due(10, false));
  schedule.Start();
  EXPECT_FALSE(schedule.Due(25, false)) << "one in flight";
  schedule.Finish(13, false);  // It evaluated the version current when it started.
  EXPECT_EQ(schedule.next_version(), 23u) << "counted from the version evaluated: no backlog";
  EXPECT_FALSE(schedule.Due(22, false));
  EXPECT_TRUE(schedule.Due(22, true)) << "training ended: the final evaluation";
  schedule.Start();
  schedule.Finish(22, true);
  EXPECT_TRUE(schedule.done());
  EXPECT_FALSE(schedule.Due(100, true));
}

TEST(EvalScheduleTest, AResumedScheduleGoesOnFromItsCheckpoint) {
  EXPECT_FALSE(EvalSchedule(10, 40, false).Due(39, false));
  EXPECT_TRUE(EvalSchedule(10, 40, false).Due(40, false));
  EXPECT_FALSE(EvalSchedule(10, 40, true).Due(40, true)) << "a finished run stays finished";
}

}  // namespace
}  // namespace tributary::coordinator
