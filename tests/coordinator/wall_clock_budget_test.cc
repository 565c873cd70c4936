#include "coordinator/wall_clock_budget.h"

#include <vector>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

constexpr double kGrace = 30;

TEST(WallClockBudgetTest, ZeroSecondsIsNoTimeBudget) {
  WallClockBudget budget(0, kGrace, /*max_steps=*/100);
  EXPECT_FALSE(budget.enabled());
  EXPECT_EQ(budget.Advance(1e6, 5, 0), BudgetEvent::kNone);
  EXPECT_TRUE(budget.leasing());
  EXPECT_FALSE(budget.ended());
  EXPECT_FALSE(budget.remaining_s(10).has_value());
  EXPECT_EQ(budget.schedule_steps(), 100);
}

// Leases out at the deadline may still submit; the run ends when the last
// is in.
TEST(WallClockBudgetTest, TheDeadlineStopsLeasingAndTheRunEndsWhenNothingIsOut) {
  WallClockBudget budget(100, kGrace, 1000);
  EXPECT_EQ(budget.Advance(99.9, 50, 2), BudgetEvent::kNone);
  EXPECT_TRUE(budget.leasing());
  EXPECT_DOUBLE_EQ(*budget.remaining_s(99.5), 0.5);
  EXPECT_EQ(budget.Advance(100, 50, 2), BudgetEvent::kDeadline);
  EXPECT_FALSE(budget.leasing());
  EXPECT_FALSE(budget.ended());
  EXPECT_DOUBLE_EQ(*budget.remaining_s(100.5), 0);
  EXPECT_EQ(budget.Advance(101, 51, 1), BudgetEvent::kNone);
  EXPECT_EQ(budget.Advance(102, 52, 0), BudgetEvent::kEnded);
  EXPECT_TRUE(budget.ended());
  EXPECT_EQ(budget.Advance(103, 52, 0), BudgetEvent::kNone) << "it ends once";
}

TEST(WallClockBudgetTest, TheGraceBoundsTheWaitForLeasesOut) {
  WallClockBudget budget(100, kGrace, 1000);
  EXPECT_EQ(budget.Advance(100, 50, 1), BudgetEvent::kDeadline);
  EXPECT_EQ(budget.Advance(129.9, 50, 1), BudgetEvent::kNone);
  EXPECT_EQ(budget.Advance(130, 50, 1), BudgetEvent::kEnded);
}

TEST(WallClockBudgetTest, NothingOutAtTheDeadlineEndsAtOnce) {
  WallClockBudget budget(100, kGrace, 1000);
  EXPECT_EQ(budget.Advance(100.05, 50, 0), BudgetEvent::kEnded);
  EXPECT_FALSE(budget.leasing());
}

// A checkpoint of a run in its grace resumes with the time it had; the
// next Advance decides again (its leases went back to the queue).
TEST(WallClockBudgetTest, ResumeDecidesAfresh) {
  WallClockBudget budget(100, kGrace, 1000);
  ASSERT_EQ(budget.Advance(100, 50, 0), BudgetEvent::kEnded);
  budget.Resume(60, 30);
  EXPECT_TRUE(budget.leasing());
  EXPECT_FALSE(budget.ended());
  EXPECT_EQ(budget.schedule_steps(), 50) << "30 steps in 60 s, for 100 s";
  EXPECT_EQ(budget.Advance(100, 50, 0), BudgetEvent::kEnded);
}

std::vector<WorkItem> Items(int epochs, int shards, const std::vector<int>& done) {
  std::vector<WorkItem> items(epochs * shards);
  for (int i = 0; i < static_cast<int>(items.size()); ++i) {
    items[i].epoch = i / shards;
    items[i].shard = i % shards;
  }
  for (int i : done) items[i].state = WorkState::kDone;
  return items;
}

TEST(EpochProgressTest, CountsWholeEpochsThenThePartialOne) {
  EXPECT_EQ(CountEpochProgress(Items(2, 3, {}), 3).complete_epochs, 0);
  const EpochProgress one = CountEpochProgress(Items(3, 3, {0, 1, 2, 3}), 3);
  EXPECT_EQ(one.complete_epochs, 1);
  EXPECT_EQ(one.partial_epoch_shards, 1);
  // The last shard of epoch 0 was still out when the time ran out, while
  // epoch 1 had begun: no whole epoch, and the partial work straddles both.
  const EpochProgress straddling = CountEpochProgress(Items(2, 3, {0, 1, 3, 4}), 3);
  EXPECT_EQ(straddling.complete_epochs, 0);
  EXPECT_EQ(straddling.partial_epoch_shards, 4);
  const EpochProgress all = CountEpochProgress(Items(2, 3, {0, 1, 2, 3, 4, 5}), 3);
  EXPECT_EQ(all.complete_epochs, 2);
  EXPECT_EQ(all.partial_epoch_shards, 0);
}

}  // namespace
}  // namespace tributary::coordinator
