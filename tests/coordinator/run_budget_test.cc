// TrainingRun under a wall-clock budget (JobSpec.budget.seconds): the run
// ends at the deadline, leases stop, leases out get the grace, the final
// evaluation follows, and a checkpoint keeps the time that is left.
#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "common/clock.h"
#include "coordinator/run.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

// The MLP 6 -> 4 -> 3.
constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;
constexpr double kBudgetS = 10;
// TinyJob's lease timeout, which is the grace after the deadline.
constexpr double kGraceS = 30;

// 3 shards of 4 examples, 100 epochs: far more than 10 s of work.
tributary::v1::JobSpec TimedJob() {
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_budget()->set_epochs(100);
  job.mutable_budget()->set_seconds(kBudgetS);
  job.mutable_eval()->set_interval_versions(1000);
  return job;
}

absl::StatusOr<SubmitResult> SubmitConstant(TrainingRun& run, const std::string& worker,
                                            const tributary::v1::Task& task) {
  return run.Submit(worker, HeaderFor(task), std::vector<float>(kNumParams, 0.1f), kNumParams * 4);
}

double SecondsSince(FakeClock& clock, absl::Time start) { return absl::ToDoubleSeconds(clock.Now() - start); }

double Distance(absl::Span<const float> a, absl::Span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

class RunBudgetTest : public ::testing::Test {
 protected:
  RunBudgetTest()
      : dataset_(TinyDataset(12, 4)), start_(clock_.Now()),
        run_(std::make_unique<TrainingRun>(TimedJob(), *dataset_, std::vector<float>(kNumParams, 0.0f), clock_)) {}

  // The final evaluation the run asks for, recorded; its model version.
  uint64_t FinishFinalEval(TrainingRun& run) {
    std::optional<EvalRequest> eval = run.WaitForEval(absl::ZeroDuration());
    EXPECT_TRUE(eval.has_value());
    if (!eval) return 0;
    EXPECT_TRUE(eval->final);
    EXPECT_FALSE(run.WaitUntilDone(absl::ZeroDuration()));
    run.RecordEval(*eval, LossStats{1.0, 1, 4});
    EXPECT_TRUE(run.WaitUntilDone(absl::ZeroDuration()));
    return eval->model->version;
  }

  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  absl::Time start_;
  std::unique_ptr<TrainingRun> run_;
};

// One worker, one task a second: it leases at 0, 1, ..., 9 s; the update
// leased at 9 s arrives at the deadline and is applied (the grace), the
// next GetTask is told the job is done, and the final evaluation runs on
// version 10. Tasks carry the schedule re-estimated from the measured rate
// (9 versions by the deadline, x 2 local steps), and the outer schedule's
// last step moves the weights far less than its first.
TEST_F(RunBudgetTest, TheRunEndsAtTheDeadline) {
  tributary::v1::JobSpec job = TimedJob();
  job.set_local_steps(2);
  TrainingRun run(job, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  std::map<uint64_t, std::vector<float>> weights;  // By version.
  int leased = 0;
  while (true) {
    TaskDecision decision = run.GetTask(a);
    if (decision.job_done) break;
    ASSERT_TRUE(decision.task.has_value());
    const tributary::v1::Task& task = *decision.task;
    EXPECT_LT(SecondsSince(clock_, start_), kBudgetS) << "a task leased after the deadline";
    EXPECT_EQ(task.schedule_step(), 2 * task.base_version());
    // Before an update has been measured the schedule is the epochs' (300
    // versions); then 9 versions by the deadline, never less than the next.
    const uint64_t versions = leased < 2 ? 300 : std::max<uint64_t>(9, task.base_version() + 1);
    EXPECT_EQ(task.schedule_total_steps(), 2 * versions) << "task " << leased;
    weights[task.base_version()] = std::vector<float>(run.Model(task.base_version()).value()->params().begin(),
                                                      run.Model(task.base_version()).value()->params().end());
    ++leased;
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(SubmitConstant(run, a, task).ok());
  }
  EXPECT_DOUBLE_EQ(SecondsSince(clock_, start_), kBudgetS);
  EXPECT_EQ(leased, 10);
  EXPECT_TRUE(run.GetTask(a).job_done) << "and stays done";

  const RunStatus status = run.Status();
  EXPECT_EQ(status.budget.ended_by, "time");
  EXPECT_EQ(status.budget.remaining_s, 0.0);
  EXPECT_EQ(status.budget.epochs.complete_epochs, 3);
  EXPECT_EQ(status.budget.epochs.partial_epoch_shards, 1);
  EXPECT_EQ(status.shards.done, 10);
  EXPECT_EQ(status.shards.leased, 0);
  EXPECT_EQ(status.updates_rejected, 0);
  for (const WorkItem& item : run.LedgerItems()) EXPECT_LE(item.completions, 1);
  std::optional<EvalRequest> eval = run.WaitForEval(absl::ZeroDuration());
  ASSERT_TRUE(eval.has_value());
  EXPECT_TRUE(eval->final);
  EXPECT_EQ(eval->model->version, 10u);
  weights[10] = std::vector<float>(eval->model->params().begin(), eval->model->params().end());
  run.RecordEval(*eval, LossStats{1.0, 1, 4});
  EXPECT_TRUE(run.WaitUntilDone(absl::ZeroDuration()));
  EXPECT_LT(Distance(weights[10], weights[9]), 0.2 * Distance(weights[1], weights[0]))
      << "the cosine is at its end";
}

// Two workers: at the deadline a's update is on its way and b is still
// computing. a's arrives and is applied; a is told the job is done; the run
// waits for b's (heartbeats keep it alive) until the grace is over, then
// releases it: its shard stays pending, and its late update is refused.
TEST_F(RunBudgetTest, LeasesOutAtTheDeadlineHaveTheGraceAndNoMore) {
  const std::string a = run_->Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run_->Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task first = run_->GetTask(a).task.value();
  const tributary::v1::Task slow = run_->GetTask(b).task.value();
  clock_.Advance(absl::Seconds(9.9));
  ASSERT_TRUE(run_->Authenticate("sa").ok());
  ASSERT_TRUE(run_->Authenticate("sb").ok());
  run_->Heartbeat(b, slow.task_id());
  ASSERT_TRUE(SubmitConstant(*run_, a, first).ok());
  const tributary::v1::Task last = run_->GetTask(a).task.value();
  clock_.Advance(absl::Seconds(0.6));

  auto late = SubmitConstant(*run_, a, last);
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_TRUE(late->applied);
  EXPECT_TRUE(run_->GetTask(a).job_done);
  RunStatus status = run_->Status();
  EXPECT_EQ(status.budget.ended_by, "");
  EXPECT_EQ(status.shards.leased, 1) << "b's task is still out";
  EXPECT_FALSE(run_->WaitForEval(absl::ZeroDuration()).has_value()) << "not over yet";

  while (SecondsSince(clock_, start_) + 2 < kBudgetS + kGraceS) {
    clock_.Advance(absl::Seconds(2));
    ASSERT_TRUE(run_->Authenticate("sb").ok());
    EXPECT_TRUE(run_->Heartbeat(b, slow.task_id()).empty()) << "still b's";
    run_->Tick();
    ASSERT_EQ(run_->Status().budget.ended_by, "");
  }
  clock_.Advance(absl::Seconds(kBudgetS + kGraceS - SecondsSince(clock_, start_)));
  run_->Tick();
  status = run_->Status();
  EXPECT_EQ(status.budget.ended_by, "time");
  EXPECT_EQ(status.shards.leased, 0);
  EXPECT_EQ(status.shards.done, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(SubmitConstant(*run_, b, slow).status()));
  EXPECT_EQ(run_->Heartbeat(b, slow.task_id()), std::vector<uint64_t>{slow.task_id()}) << "revoked";
  EXPECT_EQ(FinishFinalEval(*run_), 2u);
  for (const WorkItem& item : run_->LedgerItems()) {
    EXPECT_EQ(item.completions, item.task_id == first.task_id() || item.task_id == last.task_id() ? 1 : 0);
  }
}

// Stopped 6.5 s into its 10 s with a task in flight, and restarted a day
// later: 3.5 s are left, the schedule goes on from the rate so far, and
// leasing stops when the run's own clock reaches 10 s.
TEST_F(RunBudgetTest, ACheckpointKeepsTheTimeThatIsLeft) {
  const std::string a = run_->Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (int i = 0; i < 6; ++i) {
    const tributary::v1::Task task = run_->GetTask(a).task.value();
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(SubmitConstant(*run_, a, task).ok());
  }
  run_->GetTask(a);  // In flight when the coordinator stops.
  clock_.Advance(absl::Seconds(0.5));
  const tributary::v1::Checkpoint checkpoint = run_->MakeCheckpoint();

  FakeClock later(clock_.Now() + absl::Hours(24));
  const absl::Time restart = later.Now();
  TrainingRun resumed(TimedJob(), *dataset_, std::vector<float>(kNumParams, 0.0f), later);
  ASSERT_TRUE(resumed.Restore(checkpoint).ok());
  RunStatus status = resumed.Status();
  EXPECT_NEAR(*status.budget.remaining_s, 3.5, 1e-9);
  EXPECT_EQ(status.budget.schedule_steps, 9) << "6 versions in 6.5 s: 3.2 more by the deadline";
  EXPECT_EQ(status.shards.leased, 0);

  const std::string b = resumed.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  int leased = 0;
  while (true) {
    TaskDecision decision = resumed.GetTask(b);
    if (decision.job_done) break;
    EXPECT_LT(6.5 + SecondsSince(later, restart), kBudgetS);
    ++leased;
    later.Advance(absl::Seconds(1));
    ASSERT_TRUE(SubmitConstant(resumed, b, decision.task.value()).ok());
  }
  EXPECT_EQ(leased, 4) << "at 6.5, 7.5, 8.5 and 9.5 s of run time";
  EXPECT_EQ(resumed.Status().budget.ended_by, "time");
  EXPECT_EQ(FinishFinalEval(resumed), 10u);
}

// A budget of time that the epochs use up first ends with the epochs, and
// the deadline passing later changes nothing.
TEST_F(RunBudgetTest, EpochsThatEndFirstEndTheRun) {
  tributary::v1::JobSpec job = TimedJob();
  job.mutable_budget()->set_epochs(1);
  TrainingRun run(job, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (int i = 0; i < 3; ++i) {
    const tributary::v1::Task task = run.GetTask(a).task.value();
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(SubmitConstant(run, a, task).ok());
  }
  EXPECT_TRUE(run.GetTask(a).job_done);
  EXPECT_EQ(run.Status().budget.ended_by, "epochs");
  EXPECT_EQ(FinishFinalEval(run), 3u);
  clock_.Advance(absl::Seconds(100));
  run.Tick();
  const RunStatus status = run.Status();
  EXPECT_EQ(status.budget.ended_by, "epochs");
  EXPECT_EQ(status.budget.epochs.complete_epochs, 1);
  EXPECT_EQ(status.budget.epochs.partial_epoch_shards, 0);
}

}  // namespace
}  // namespace tributary::coordinator
