#include "coordinator/time_budget.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::TimeBudget;

TimeBudget Budget(double compute_s, double other_phases_s) {
  TimeBudget budget;
  budget.set_compute_s(compute_s);
  budget.set_download_s(other_phases_s / 2);
  budget.set_wait_apply_s(other_phases_s / 2);
  return budget;
}

TEST(TimeBudgetTest, WallTimeIsThePhasesAddedUpWithoutTheTransfers) {
  TimeBudget budget;
  budget.set_compute_s(1);
  budget.set_encode_s(2);
  budget.set_download_s(3);
  budget.set_upload_s(4);
  budget.set_wait_task_s(5);
  budget.set_wait_apply_s(6);
  budget.set_other_s(7);
  budget.set_download_transfer_s(100);
  budget.set_upload_transfer_s(100);
  EXPECT_DOUBLE_EQ(WallSeconds(budget), 28);
  EXPECT_DOUBLE_EQ(Utilization(budget).value_or(-1), 1.0 / 28);
  EXPECT_FALSE(Utilization(TimeBudget()).has_value()) << "no wall time, no utilization";
}

TEST(TimeBudgetTest, SumsAddEveryField) {
  TimeBudget total = Budget(1, 2);
  TimeBudget more = Budget(3, 4);
  more.set_upload_transfer_s(0.5);
  AddTimeBudget(more, total);
  EXPECT_DOUBLE_EQ(total.compute_s(), 4);
  EXPECT_DOUBLE_EQ(total.download_s(), 3);
  EXPECT_DOUBLE_EQ(total.wait_apply_s(), 3);
  EXPECT_DOUBLE_EQ(total.upload_transfer_s(), 0.5);
  EXPECT_DOUBLE_EQ(WallSeconds(total), 10);
}

TEST(TimeBudgetTest, ReportsMustBeFiniteNonNegativeAndUnderADay) {
  EXPECT_TRUE(CheckTimeBudget(TimeBudget()).ok());
  EXPECT_TRUE(CheckTimeBudget(Budget(0.25, 0.1)).ok());
  TimeBudget at_bound;
  at_bound.set_other_s(kMaxReportedSeconds);
  EXPECT_TRUE(CheckTimeBudget(at_bound).ok());

  TimeBudget nan = Budget(1, 1);
  nan.set_encode_s(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(CheckTimeBudget(nan).message(), ::testing::HasSubstr("encode_s"));
  TimeBudget infinite = Budget(1, 1);
  infinite.set_download_transfer_s(std::numeric_limits<double>::infinity());
  EXPECT_THAT(CheckTimeBudget(infinite).message(), ::testing::HasSubstr("download_transfer_s"));
  EXPECT_THAT(CheckTimeBudget(Budget(-1, 1)).message(), ::testing::HasSubstr("compute_s"));
  TimeBudget transfer_over = Budget(1, 1);
  transfer_over.set_upload_transfer_s(kMaxReportedSeconds * 1.01);
  EXPECT_FALSE(CheckTimeBudget(transfer_over).ok());
  TimeBudget sum_over = at_bound;
  sum_over.set_compute_s(1);
  EXPECT_THAT(CheckTimeBudget(sum_over).message(), ::testing::HasSubstr("add up"))
      << "each phase is under a day, their sum is not";

  EXPECT_TRUE(CheckTimeTotals(Budget(1e9, 1e9), "here").ok()) << "sums may exceed a day";
  EXPECT_THAT(CheckTimeTotals(nan, "worker w1").message(), ::testing::HasSubstr("worker w1: time.encode_s"));
}

TEST(UtilizationWindowTest, CoversTheLastReportsOnly) {
  UtilizationWindow window;
  EXPECT_FALSE(window.utilization().has_value());
  window.Add(TimeBudget());
  EXPECT_FALSE(window.utilization().has_value()) << "a report of no time says nothing";
  window.Add(Budget(3, 1));
  EXPECT_DOUBLE_EQ(window.utilization().value_or(-1), 0.75);
  window.Add(Budget(1, 3));
  EXPECT_DOUBLE_EQ(window.utilization().value_or(-1), 0.5) << "compute over wall summed, not a mean of ratios";
  for (int i = 0; i < kUtilizationWindow; ++i) window.Add(Budget(0.9, 0.1));
  EXPECT_NEAR(window.utilization().value_or(-1), 0.9, 1e-12) << "older reports left the window";
  window.Add(Budget(0, 1.6));
  EXPECT_NEAR(window.utilization().value_or(-1), (0.9 * 15) / (15 + 1.6), 1e-12);
}

}  // namespace
}  // namespace tributary::coordinator
