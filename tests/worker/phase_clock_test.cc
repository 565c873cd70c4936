// The phase clock's contract: phases never overlap and add up to the wall
// time; Take hands over what accumulated and starts afresh.
#include "worker/phase_clock.h"

#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

absl::Time At(double seconds) { return kStart + absl::Seconds(seconds); }

TEST(PhaseClockTest, ChargesEachSpanToThePhaseItWasIn) {
  PhaseClock clock(kStart, Phase::kWaitTask);
  EXPECT_EQ(clock.Enter(Phase::kDownload, At(0.5)), Phase::kWaitTask);
  EXPECT_EQ(clock.Enter(Phase::kCompute, At(1.0)), Phase::kDownload);
  clock.Enter(Phase::kEncode, At(3.0));
  clock.Enter(Phase::kUpload, At(3.25));
  clock.Enter(Phase::kWaitApply, At(3.5));
  clock.Enter(Phase::kCompute, At(4.0));
  const tributary::v1::TimeBudget budget = clock.Take(At(5.0));
  EXPECT_DOUBLE_EQ(budget.wait_task_s(), 0.5);
  EXPECT_DOUBLE_EQ(budget.download_s(), 0.5);
  EXPECT_DOUBLE_EQ(budget.compute_s(), 3.0);
  EXPECT_DOUBLE_EQ(budget.encode_s(), 0.25);
  EXPECT_DOUBLE_EQ(budget.upload_s(), 0.25);
  EXPECT_DOUBLE_EQ(budget.wait_apply_s(), 0.5);
  EXPECT_DOUBLE_EQ(budget.other_s(), 0.0);
  EXPECT_DOUBLE_EQ(WallSeconds(budget), 5.0);
}

TEST(PhaseClockTest, TakeStartsTheNextBudgetInTheSamePhase) {
  PhaseClock clock(kStart, Phase::kCompute);
  EXPECT_DOUBLE_EQ(clock.Take(At(2.0)).compute_s(), 2.0);
  clock.Enter(Phase::kOther, At(3.0));
  const tributary::v1::TimeBudget next = clock.Take(At(3.5));
  EXPECT_DOUBLE_EQ(next.compute_s(), 1.0);
  EXPECT_DOUBLE_EQ(next.other_s(), 0.5);
  EXPECT_DOUBLE_EQ(WallSeconds(next), 1.5);
}

TEST(PhaseClockTest, TimeNeverRunsBackwards) {
  PhaseClock clock(kStart, Phase::kCompute);
  clock.Enter(Phase::kDownload, At(1.0));
  clock.Enter(Phase::kCompute, At(0.5));  // A late report of an earlier instant.
  const tributary::v1::TimeBudget budget = clock.Take(At(2.0));
  EXPECT_DOUBLE_EQ(budget.download_s(), 0.0);
  EXPECT_DOUBLE_EQ(WallSeconds(budget), 2.0);
}

TEST(PhaseClockTest, TransfersAreCountedBesideThePhases) {
  PhaseClock clock(kStart, Phase::kCompute);
  clock.AddDownloadTransfer(absl::Milliseconds(300));
  clock.AddUploadTransfer(absl::Milliseconds(200));
  const tributary::v1::TimeBudget budget = clock.Take(At(1.0));
  EXPECT_DOUBLE_EQ(budget.download_transfer_s(), 0.3);
  EXPECT_DOUBLE_EQ(budget.upload_transfer_s(), 0.2);
  EXPECT_DOUBLE_EQ(WallSeconds(budget), 1.0);  // Overlapped: not wall time.
  EXPECT_DOUBLE_EQ(clock.Take(At(1.0)).download_transfer_s(), 0.0);
}

TEST(PhaseClockTest, FormatsThePhasesThatTookTime) {
  tributary::v1::TimeBudget budget;
  budget.set_compute_s(0.3);
  budget.set_wait_apply_s(0.1);
  EXPECT_EQ(FormatBudget(budget), "compute 300 ms, wait for apply 100 ms (utilization 75 %)");
}

}  // namespace
}  // namespace tributary::worker
