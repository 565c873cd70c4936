#include "coordinator/run.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

#include "common/clock.h"
#include "common/sha256.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

// The MLP 6 -> 4 -> 3.
constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;

tributary::v1::Task LeaseTask(TrainingRun& run, const std::string& worker) {
  TaskDecision decision = run.GetTask(worker);
  EXPECT_TRUE(decision.task.has_value());
  return decision.task.value_or(tributary::v1::Task());
}

// Submits an update of `value` everywhere for `task`.
absl::StatusOr<SubmitResult> SubmitConstant(TrainingRun& run, const std::string& worker,
                                            const tributary::v1::Task& task, float value = 0.1f) {
  return run.Submit(worker, HeaderFor(task), std::vector<float>(kNumParams, value), kNumParams * 4);
}

class RunTest : public ::testing::Test {
 protected:
  RunTest()
      : dataset_(TinyDataset(12, 4)),
        job_(TinyJob()),
        run_(job_, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_) {}

  tributary::v1::Task Lease(const std::string& worker) { return LeaseTask(run_, worker); }

  absl::StatusOr<SubmitResult> Submit(const std::string& worker, const tributary::v1::Task& task,
                                      float value = 0.1f) {
    return SubmitConstant(run_, worker, task, value);
  }

  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  tributary::v1::JobSpec job_;
  TrainingRun run_;
};

TEST_F(RunTest, TaskCarriesShardModelAndLease) {
  const std::string w = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task task = Lease(w);
  EXPECT_EQ(task.base_version(), 0u);
  EXPECT_EQ(task.local_steps(), 1u);
  EXPECT_EQ(task.shard_examples(), 4u);
  EXPECT_EQ(task.shard_sha256(), DigestBytes(dataset_->shards[task.shard_id()].sha256));
  auto model = run_.Model(0);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(task.model_sha256(), DigestBytes((*model)->sha256()));
  EXPECT_EQ(task.model_bytes(), kNumParams * 4u);
  EXPECT_EQ(run_.Status().shards.leased, 1);
}

// DiLoCo: a task of H local steps starts the inner schedule at version x H,
// so a worker picks it up where the run stands, and a checkpoint holds the
// newest weights and counters.
TEST(RunLocalStepsTest, TasksCarryTheInnerSchedulePosition) {
  FakeClock clock;
  auto dataset = TinyDataset(12, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.set_local_steps(4);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_EQ(run.InnerScheduleSteps(), 4u * run.Status().shards.total);
  const std::string w = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (uint64_t version = 0; version < 3; ++version) {
    const tributary::v1::Task task = LeaseTask(run, w);
    EXPECT_EQ(task.local_steps(), 4u);
    EXPECT_EQ(task.batch_examples(), 1u);
    EXPECT_EQ(task.schedule_step(), 4 * version);
    ASSERT_TRUE(SubmitConstant(run, w, task, 0.5f).ok());
  }
  const tributary::v1::Checkpoint checkpoint = run.MakeCheckpoint();
  EXPECT_EQ(checkpoint.model_version(), 3u);
  EXPECT_EQ(checkpoint.samples_processed(), 12u);
  EXPECT_EQ(checkpoint.job().local_steps(), 4);
  auto model = run.Model(3);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(checkpoint.params(), (*model)->bytes);
}

// The inner schedule runs over every worker's local steps (tasks x H); a
// task from version v starts at v x K x H, K the updates per version. So
// the schedule is the same function of the samples seen in every mode, and
// the version that ends the budget stands exactly at its end (it once
// stood at v x H, and with buffers or rounds of K the inner cosine got 1/K
// of the way).
struct ScheduleMode {
  const char* name;
  tributary::v1::AggregationSpec::Mode mode;
  int updates_per_version;
};

class RunScheduleTest : public ::testing::TestWithParam<ScheduleMode> {};

TEST_P(RunScheduleTest, TheInnerSchedulePositionReachesItsEndWithTheBudget) {
  FakeClock clock;
  auto dataset = TinyDataset(48, 4);  // 12 shards.
  tributary::v1::JobSpec job = TinyJob();
  job.set_local_steps(2);
  job.mutable_budget()->set_epochs(2);
  job.mutable_aggregation()->set_mode(GetParam().mode);
  job.mutable_aggregation()->set_buffer_size(GetParam().updates_per_version);
  job.mutable_aggregation()->set_max_staleness(8);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const uint64_t k = GetParam().updates_per_version;
  const uint64_t total = run.InnerScheduleSteps();
  EXPECT_EQ(total, 2u * 24) << "every task's local steps";
  std::vector<std::string> workers;
  for (const char* name : {"a", "b", "c"}) {
    workers.push_back(run.Join({name, "cpu", 1, "ip:test"}, std::string("s") + name).value());
  }
  int tasks = 0;
  for (int round = 0; round < 100 && run.Status().shards.done < run.Status().shards.total; ++round) {
    // Each worker leases what it may, then all submit.
    std::vector<std::pair<std::string, tributary::v1::Task>> leased;
    for (const std::string& w : workers) {
      if (std::optional<tributary::v1::Task> task = run.GetTask(w).task) leased.emplace_back(w, *task);
    }
    for (const auto& [w, task] : leased) {
      EXPECT_EQ(task.schedule_step(), task.base_version() * k * 2) << "task " << task.task_id();
      EXPECT_LE(task.schedule_step() + task.local_steps(), total) << "task " << task.task_id();
      ASSERT_TRUE(SubmitConstant(run, w, task, 0.01f).ok());
      ++tasks;
    }
  }
  EXPECT_EQ(tasks, 24);
  EXPECT_EQ(run.version(), 24 / k);
  EXPECT_EQ(run.version() * k * 2, total) << "the last version stands at the schedule's end";
}

INSTANTIATE_TEST_SUITE_P(
    Modes, RunScheduleTest,
    ::testing::Values(ScheduleMode{"async", tributary::v1::AggregationSpec::ASYNC, 1},
                      ScheduleMode{"buffered", tributary::v1::AggregationSpec::ASYNC, 4},
                      ScheduleMode{"sync", tributary::v1::AggregationSpec::SYNC, 3}),
    [](const ::testing::TestParamInfo<ScheduleMode>& info) { return info.param.name; });

// SYNC rounds of 2: every task of a round starts from its version, no
// worker holds two at once, a third worker waits for the next round, and
// the round is applied when its last update is in. Nothing is ever stale.
TEST(RunSyncTest, RoundsStartFromOneVersionAndApplyWhenComplete) {
  FakeClock clock;
  auto dataset = TinyDataset(48, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_aggregation()->set_mode(tributary::v1::AggregationSpec::SYNC);
  job.mutable_aggregation()->set_buffer_size(2);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const std::string c = run.Join({"c", "cpu", 1, "ip:test"}, "sc").value();

  const tributary::v1::Task ta = LeaseTask(run, a);
  const uint64_t keep_a[] = {ta.task_id()};
  TaskDecision ahead = run.GetTask(a, keep_a);
  EXPECT_FALSE(ahead.task.has_value()) << "a worker holds one task of a round at a time";
  EXPECT_GT(ahead.retry_after, absl::ZeroDuration());
  const tributary::v1::Task tb = LeaseTask(run, b);
  EXPECT_EQ(ta.base_version(), 0u);
  EXPECT_EQ(tb.base_version(), 0u);
  EXPECT_FALSE(run.GetTask(c).task.has_value()) << "the round is full";

  auto first = SubmitConstant(run, a, ta);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->model_version, 0u) << "the round waits for its second update";
  EXPECT_FALSE(run.GetTask(a).task.has_value()) << "1 update in + 1 lease out fill the round";
  auto second = SubmitConstant(run, b, tb);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->model_version, 1u);

  const tributary::v1::Task tc = LeaseTask(run, c);
  EXPECT_EQ(tc.base_version(), 1u);
  EXPECT_EQ(run.Status().staleness_histogram[0], 2);
}

// SYNC with a quorum of 2 of 3 and a grace of 5 s: a round with two updates
// in waits 5 s for the third, then is applied; the straggler's lease is
// revoked (its heartbeat says so), its late update refused, and its shard
// goes back to the queue.
TEST(RunSyncTest, AQuorumClosesTheRoundAfterTheGraceAndRevokesStragglers) {
  FakeClock clock;
  auto dataset = TinyDataset(48, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_aggregation()->set_mode(tributary::v1::AggregationSpec::SYNC);
  job.mutable_aggregation()->set_buffer_size(3);
  job.mutable_aggregation()->set_sync_quorum(2);
  job.mutable_aggregation()->set_straggler_grace_s(5);
  job.mutable_lease()->set_heartbeat_timeout_s(100);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  std::vector<std::string> w;
  std::vector<tributary::v1::Task> t;
  for (const char* name : {"a", "b", "c"}) {
    w.push_back(run.Join({name, "cpu", 1, "ip:test"}, std::string("s") + name).value());
    t.push_back(LeaseTask(run, w.back()));
  }
  ASSERT_TRUE(SubmitConstant(run, w[0], t[0]).ok());
  ASSERT_TRUE(SubmitConstant(run, w[1], t[1]).ok());
  clock.Advance(absl::Seconds(4));
  run.Tick();
  EXPECT_EQ(run.version(), 0u) << "still within the grace";
  clock.Advance(absl::Seconds(2));
  run.Tick();
  EXPECT_EQ(run.version(), 1u);
  EXPECT_EQ(run.Heartbeat(w[2], t[2].task_id()), std::vector<uint64_t>{t[2].task_id()});
  EXPECT_FALSE(SubmitConstant(run, w[2], t[2]).ok()) << "a straggler's late update is refused";
  EXPECT_EQ(run.Status().shards.leased, 0);
  EXPECT_EQ(run.Status().shards.done, 2);
  const tributary::v1::Task again = LeaseTask(run, w[2]);
  EXPECT_EQ(again.shard_id(), t[2].shard_id()) << "the straggler's shard is the next one out";
  EXPECT_EQ(again.base_version(), 1u);
}

// Buffers of 2 over a budget of 3 tasks: one full buffer, and the last
// update is applied when the budget is spent rather than left waiting.
TEST(RunBufferedTest, TheLastPartialBufferIsApplied) {
  FakeClock clock;
  auto dataset = TinyDataset(12, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_aggregation()->set_buffer_size(2);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string w = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  std::vector<uint64_t> versions;
  for (int i = 0; i < 3; ++i) {
    auto result = SubmitConstant(run, w, LeaseTask(run, w), 0.5f);
    ASSERT_TRUE(result.ok()) << result.status();
    versions.push_back(result->model_version);
  }
  EXPECT_EQ(versions, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(run.Status().buffered_updates, 0);
  EXPECT_EQ(run.Status().staleness_histogram, (std::vector<int64_t>{3, 0}));
}

// A pipelining worker leases its next task before it submits the current
// one: the lease it names stays, the one it does not name is released.
TEST_F(RunTest, GetTaskKeepsTheNamedLeasesAndReleasesTheOthers) {
  const std::string w = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task first = Lease(w);
  const uint64_t keep_first[] = {first.task_id()};
  const tributary::v1::Task second = run_.GetTask(w, keep_first).task.value();
  EXPECT_EQ(run_.Status().shards.leased, 2);
  EXPECT_TRUE(Submit(w, first).ok()) << "the kept lease is still live";

  const uint64_t keep_second[] = {second.task_id()};
  const tributary::v1::Task third = run_.GetTask(w, keep_second).task.value();
  const uint64_t keep_third[] = {third.task_id()};
  const tributary::v1::Task fourth_try = run_.GetTask(w, keep_third).task.value_or(tributary::v1::Task());
  EXPECT_EQ(fourth_try.shard_id(), second.shard_id()) << "the second lease, not kept, went back to the front";
  EXPECT_TRUE(absl::IsFailedPrecondition(Submit(w, second).status()));
  EXPECT_EQ(run_.Status().shards.leased, 2);

  run_.GetTask(w);  // Keeping nothing releases everything, as before.
  EXPECT_EQ(run_.Status().shards.leased, 1);
}

// Heartbeats renew every lease the worker holds and name each held task it
// no longer holds, once.
TEST_F(RunTest, HeartbeatRevokesTheHeldTasksNoLongerLeased) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task kept = Lease(a);
  const uint64_t keep[] = {kept.task_id()};
  const tributary::v1::Task current = run_.GetTask(a, keep).task.value();
  const uint64_t held[] = {kept.task_id(), current.task_id()};
  for (int i = 0; i < 4; ++i) {  // 32 s: past the 30 s lease unless renewed.
    clock_.Advance(absl::Seconds(8));
    ASSERT_TRUE(run_.Authenticate("sa").ok());
    EXPECT_TRUE(run_.Heartbeat(a, current.task_id(), held).empty());
  }
  EXPECT_TRUE(Submit(a, kept).ok()) << "the held lease was renewed too";

  const std::string b = run_.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task others = Lease(b);
  const uint64_t claimed[] = {current.task_id(), others.task_id(), 12345, current.task_id()};
  EXPECT_EQ(run_.Heartbeat(a, current.task_id(), claimed), (std::vector<uint64_t>{others.task_id(), 12345}));
  EXPECT_EQ(run_.Heartbeat(a, kept.task_id(), {}), std::vector<uint64_t>{kept.task_id()})
      << "a submitted task is no longer held";
}

// A pipelining worker computes on the newest model it holds: any base from
// the lease's version to the current one is accepted, and staleness counts
// from the base it names.
TEST(RunBaseVersionTest, ABaseNewerThanTheLeaseIsAcceptedWithItsOwnStaleness) {
  FakeClock clock;
  auto dataset = TinyDataset(24, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_aggregation()->set_max_staleness(3);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task task = LeaseTask(run, a);  // Based on version 0.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(SubmitConstant(run, b, LeaseTask(run, b)).ok());
  ASSERT_EQ(run.version(), 3u);

  tributary::v1::UpdateHeader future = HeaderFor(task);
  future.set_base_version(4);
  EXPECT_TRUE(absl::IsInvalidArgument(run.Submit(a, future, std::vector<float>(kNumParams, 0.1f), 0).status()))
      << "a version not made yet";
  tributary::v1::UpdateHeader newer = HeaderFor(task);
  newer.set_base_version(2);
  const absl::StatusOr<SubmitResult> accepted = run.Submit(a, newer, std::vector<float>(kNumParams, 0.1f), 0);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE(accepted->applied);
  const RunStatus s = run.Status();
  EXPECT_EQ(s.staleness_histogram, (std::vector<int64_t>{3, 1, 0, 0})) << "staleness 3 - 2, not 3 - 0";
  EXPECT_EQ(s.workers[0].staleness_last, 1u);
  EXPECT_EQ(s.rejected_by_reason.at("invalid"), 1);

  const tributary::v1::Task later = LeaseTask(run, a);  // Based on version 4.
  tributary::v1::UpdateHeader older = HeaderFor(later);
  older.set_base_version(3);
  EXPECT_TRUE(absl::IsInvalidArgument(run.Submit(a, older, std::vector<float>(kNumParams, 0.1f), 0).status()))
      << "older than the lease";
  EXPECT_EQ(run.Status().shards.leased, 1) << "the lease stays: a corrected submit may follow";
}

// A worker learns of a new version from its submit's reply and fetches it
// at once, before any task names it.
TEST_F(RunTest, TheCurrentModelIsServedBeforeAnyTaskNamesIt) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  EXPECT_TRUE(run_.Model(0).ok()) << "no task has been handed out yet";
  const absl::StatusOr<SubmitResult> result = Submit(a, Lease(a));
  ASSERT_TRUE(result.ok());
  const absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = run_.Model(result->model_version);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->version, 1u);
  const tributary::v1::Checkpoint checkpoint = run_.MakeCheckpoint();
  EXPECT_EQ(checkpoint.model_version(), 1u);
  EXPECT_EQ((*model)->bytes, checkpoint.params()) << "the weights after the update";
  EXPECT_TRUE(absl::IsNotFound(run_.Model(2).status())) << "a version not made yet";
  EXPECT_EQ(run_.Model(1).value(), *model) << "one snapshot per version";
}

// The digest a task announces, computed outside the run's lock, is that of
// the snapshot's bytes, and each version is hashed once.
TEST_F(RunTest, SnapshotDigestsMatchTheirBytes) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (int i = 0; i < 2; ++i) {
    const tributary::v1::Task task = Lease(a);
    const std::shared_ptr<const ModelSnapshot> model = run_.Model(task.base_version()).value();
    EXPECT_EQ(task.model_sha256(), DigestBytes(Sha256(model->bytes)));
    EXPECT_EQ(&model->sha256(), &run_.Model(task.base_version()).value()->sha256());
    ASSERT_TRUE(Submit(a, task).ok());
  }
  const ModelSnapshot fresh(7, std::vector<float>{1.0f, 2.0f});
  EXPECT_EQ(fresh.sha256(), Sha256(fresh.bytes));
  EXPECT_EQ(fresh.bytes.size(), 8u);
}

TEST_F(RunTest, SubmitAppliesOnceAndRetriesAreIdempotent) {
  const std::string w = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task task = Lease(w);
  auto first = Submit(w, task);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->applied);
  EXPECT_EQ(first->model_version, 1u);
  auto retry = Submit(w, task);
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(retry->applied);
  const RunStatus s = run_.Status();
  EXPECT_EQ(s.updates_applied, 1);
  EXPECT_EQ(s.model_version, 1u);
  EXPECT_EQ(s.samples_processed, 4);
  EXPECT_EQ(s.shards.done, 1);
  EXPECT_EQ(s.bytes_received_raw, 2 * kNumParams * 4);
}

TEST_F(RunTest, SilentWorkerIsLostAndItsShardRedoneByAnother) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task task = Lease(a);
  clock_.Advance(absl::Seconds(5));
  const std::string b = run_.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  clock_.Advance(absl::Seconds(6));
  ASSERT_TRUE(run_.Authenticate("sb").ok());  // b is heard from; a has been silent 11 s.
  EXPECT_TRUE(absl::IsUnauthenticated(run_.Authenticate("sa").status()));
  const RunStatus s = run_.Status();
  EXPECT_STREQ(WorkerStateName(s.workers[0].state), "lost");
  EXPECT_EQ(s.shards.leased, 0);
  const tributary::v1::Task redo = Lease(b);
  EXPECT_EQ(redo.shard_id(), task.shard_id());
  EXPECT_TRUE(absl::IsFailedPrecondition(Submit(a, task).status()));
  ASSERT_TRUE(Submit(b, redo).ok());
  EXPECT_EQ(run_.Status().rejected_by_reason.at("lease"), 1);
}

// What /metrics and the dashboard read besides the updates: joins, leases
// by fate, bans, task times, and the rates computed on the coordinator.
TEST_F(RunTest, StatusCountsJoinsLeasesBansTaskTimesAndRates) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:a"}, "sa").value();
  const std::string b = run_.Join({"b", "cpu", 1, "ip:b"}, "sb").value();
  const tributary::v1::Task first = Lease(a);
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(Submit(a, first).ok());
  const tributary::v1::Task second = Lease(b);
  clock_.Advance(absl::Seconds(1));
  run_.Leave(b);                      // Its lease goes back: released.
  const tributary::v1::Task redo = Lease(a);  // The same shard again: a reissue.
  EXPECT_EQ(redo.shard_id(), second.shard_id());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Submit(a, redo).ok());
  RunStatus s = run_.Status();
  EXPECT_EQ(s.joins, 2);
  EXPECT_EQ(s.tasks.leased, 3);
  EXPECT_EQ(s.tasks.reissued, 1);
  EXPECT_EQ(s.tasks.released, 1);
  EXPECT_EQ(s.tasks.expired, 0);
  EXPECT_EQ(s.task_seconds.count(), 2);
  EXPECT_DOUBLE_EQ(s.task_seconds.sum(), 2 + 1);
  // 4 samples (a shard) from the first submit to the second, 2 s later.
  EXPECT_DOUBLE_EQ(s.rates.samples_per_s, 4 / 2.0);
  EXPECT_EQ(s.bans_total, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(run_.RecordInvalid(a, absl::InvalidArgumentError("bad"))));
  EXPECT_TRUE(absl::IsPermissionDenied(run_.RecordInvalid(a, absl::InvalidArgumentError("bad"))));
  s = run_.Status();
  EXPECT_EQ(s.bans_total, 1);
  // Joins and bans are the run's: a checkpoint carries them.
  const tributary::v1::Checkpoint checkpoint = run_.MakeCheckpoint();
  EXPECT_EQ(checkpoint.run().counters().joins(), 2);
  EXPECT_EQ(checkpoint.run().counters().bans(), 1);
}

TEST_F(RunTest, StaleUpdateIsRejectedAndItsShardRequeued) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run_.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task old_task = Lease(a);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Submit(b, Lease(b)).ok());
  const absl::StatusOr<SubmitResult> stale = Submit(a, old_task);
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  const RunStatus s = run_.Status();
  EXPECT_EQ(s.rejected_by_reason.at("stale"), 1);
  EXPECT_EQ(s.workers[0].updates_rejected, 1);
  EXPECT_EQ(s.shards.pending, 1);
  EXPECT_EQ(Lease(b).shard_id(), old_task.shard_id());
}

TEST_F(RunTest, InvalidRequestsBanAtTheLimit) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  Lease(a);
  EXPECT_TRUE(absl::IsInvalidArgument(run_.RecordInvalid(a, absl::InvalidArgumentError("bad"))));
  EXPECT_TRUE(absl::IsPermissionDenied(run_.RecordInvalid(a, absl::InvalidArgumentError("bad"))));
  const RunStatus s = run_.Status();
  EXPECT_STREQ(WorkerStateName(s.workers[0].state), "banned");
  EXPECT_EQ(s.shards.leased, 0);
  EXPECT_FALSE(run_.Authenticate("sa").ok());
}

TEST_F(RunTest, LeaveReleasesLeases) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  Lease(a);
  run_.Leave(a);
  const RunStatus s = run_.Status();
  EXPECT_STREQ(WorkerStateName(s.workers[0].state), "left");
  EXPECT_EQ(s.shards.pending, 3);
}

TEST_F(RunTest, EvaluationsAreRequestedOnScheduleAndTheFinalOneEndsTheRun) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  EXPECT_FALSE(run_.WaitForEval(absl::ZeroDuration()).has_value());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Submit(a, Lease(a)).ok());
  std::optional<EvalRequest> request = run_.WaitForEval(absl::ZeroDuration());
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->model->version, 2u);
  EXPECT_FALSE(request->final);
  run_.RecordEval(*request, LossStats{3.0, 2, 4});
  EXPECT_DOUBLE_EQ(*run_.Status().eval_accuracy, 0.5);

  ASSERT_TRUE(Submit(a, Lease(a)).ok());
  EXPECT_TRUE(run_.GetTask(a).job_done);
  request = run_.WaitForEval(absl::ZeroDuration());
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(request->final);
  EXPECT_FALSE(run_.WaitUntilDone(absl::ZeroDuration()));
  run_.RecordEval(*request, LossStats{1.0, 4, 4});
  EXPECT_TRUE(run_.WaitUntilDone(absl::ZeroDuration()));
  EXPECT_TRUE(run_.Status().done);
  EXPECT_FALSE(run_.History().empty());
}

// Training goes on while an evaluation runs: its point on the curves is
// where its model was (version, samples, time and train loss when it was
// asked for), not where the run is when it ends.
TEST(RunHistoryTest, AnEvaluationIsPlottedAtTheModelItEvaluated) {
  FakeClock clock;
  auto dataset = TinyDataset(120, 4);  // 30 shards.
  const tributary::v1::JobSpec job = TinyJob();
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string w = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  auto step = [&] {
    clock.Advance(absl::Seconds(1));
    ASSERT_TRUE(SubmitConstant(run, w, LeaseTask(run, w)).ok());
  };
  for (int i = 0; i < 2; ++i) step();
  std::optional<EvalRequest> request = run.WaitForEval(absl::ZeroDuration());
  ASSERT_TRUE(request.has_value());
  ASSERT_EQ(request->model->version, 2u);
  const int64_t samples_then = run.Status().samples_processed;
  EXPECT_EQ(request->samples_processed, samples_then);
  for (int i = 0; i < 10; ++i) step();  // Versions 3 to 12 while version 2 is evaluated.
  run.RecordEval(*request, LossStats{3.0, 2, 4});

  const std::vector<HistoryPoint> history = run.History();
  const auto eval =
      std::find_if(history.begin(), history.end(), [](const HistoryPoint& p) { return p.eval_loss.has_value(); });
  ASSERT_NE(eval, history.end());
  EXPECT_EQ(eval->version, 2u);
  EXPECT_EQ(eval->samples_processed, samples_then);
  EXPECT_DOUBLE_EQ(eval->time_s, request->time_s);
  ASSERT_GT(history.back().version, 2u) << "a training point of a later version";
  EXPECT_EQ(history.back().eval_loss, std::nullopt) << "the evaluation is not the newest point";
  for (size_t i = 1; i < history.size(); ++i) {
    EXPECT_LE(history[i - 1].version, history[i].version);
    EXPECT_LE(history[i - 1].samples_processed, history[i].samples_processed);
    EXPECT_LE(history[i - 1].time_s, history[i].time_s);
  }
}

TEST_F(RunTest, OldModelVersionsAreNoLongerServed) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit(a, Lease(a)).ok());
  EXPECT_TRUE(absl::IsNotFound(run_.Model(0).status()));
  EXPECT_TRUE(run_.Model(2).ok());
}

tributary::v1::TimeBudget Budget(double compute_s, double wait_s) {
  tributary::v1::TimeBudget budget;
  budget.set_compute_s(compute_s);
  budget.set_wait_apply_s(wait_s);
  budget.set_upload_transfer_s(0.5);
  return budget;
}

absl::StatusOr<SubmitResult> SubmitWithTime(TrainingRun& run, const std::string& worker,
                                            const tributary::v1::Task& task,
                                            const tributary::v1::TimeBudget& budget) {
  tributary::v1::UpdateHeader header = HeaderFor(task);
  *header.mutable_time() = budget;
  return run.Submit(worker, header, std::vector<float>(kNumParams, 0.1f), kNumParams * 4);
}

// Each report adds to the worker's sums and the run's, and to the worker's
// recent window; a rejected update's report counts too, a retry's does not.
TEST_F(RunTest, TimeBudgetsAreSummedPerWorkerAndRunWide) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run_.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  EXPECT_FALSE(UtilizationWindow().utilization().has_value());
  const tributary::v1::Task stale = Lease(a);
  const tributary::v1::Task first = Lease(b);
  ASSERT_TRUE(SubmitWithTime(run_, b, first, Budget(3, 1)).ok());
  ASSERT_TRUE(SubmitWithTime(run_, b, first, Budget(3, 1)).ok()) << "a retry";
  ASSERT_TRUE(SubmitWithTime(run_, b, Lease(b), Budget(1, 3)).ok());
  EXPECT_TRUE(absl::IsAborted(SubmitWithTime(run_, a, stale, Budget(2, 2)).status()));

  const RunStatus s = run_.Status();
  EXPECT_DOUBLE_EQ(s.workers[1].recent_time.utilization().value_or(-1), 0.5);
  EXPECT_DOUBLE_EQ(s.workers[1].time.compute_s(), 4);
  EXPECT_DOUBLE_EQ(s.workers[1].time.upload_transfer_s(), 1.0) << "the retry's report was not counted again";
  EXPECT_DOUBLE_EQ(s.workers[0].recent_time.utilization().value_or(-1), 0.5) << "recorded though the update was rejected";
  EXPECT_DOUBLE_EQ(s.time.compute_s(), 6);
  EXPECT_DOUBLE_EQ(WallSeconds(s.time), 12);
}

// A report that cannot be true is ignored and counted; the update goes on.
TEST_F(RunTest, InvalidTimeBudgetsAreIgnoredAndCounted) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  tributary::v1::TimeBudget negative = Budget(-1, 2);
  tributary::v1::TimeBudget nan = Budget(1, std::numeric_limits<double>::quiet_NaN());
  tributary::v1::TimeBudget years = Budget(kMaxReportedSeconds, kMaxReportedSeconds);
  for (const tributary::v1::TimeBudget& bad : {negative, nan, years}) {
    const absl::StatusOr<SubmitResult> result = SubmitWithTime(run_, a, Lease(a), bad);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->applied);
  }
  const RunStatus s = run_.Status();
  EXPECT_EQ(s.refused_by_reason.at("time_budget"), 3);
  EXPECT_EQ(s.updates_applied, 3);
  EXPECT_EQ(s.updates_rejected, 0);
  EXPECT_EQ(WallSeconds(s.time), 0);
  EXPECT_FALSE(s.workers[0].recent_time.utilization().has_value());
}

// The sums outlive a restart; the recent window starts afresh (its workers
// join again).
TEST(RunRestoreTest, TimeBudgetsAreCheckpointed) {
  FakeClock clock;
  auto dataset = TinyDataset(12, 4);
  TrainingRun run(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  ASSERT_TRUE(SubmitWithTime(run, a, LeaseTask(run, a), Budget(3, 1)).ok());
  const tributary::v1::Checkpoint checkpoint = run.MakeCheckpoint();
  EXPECT_DOUBLE_EQ(checkpoint.run().counters().time().compute_s(), 3);
  EXPECT_DOUBLE_EQ(checkpoint.run().workers(0).time().wait_apply_s(), 1);

  TrainingRun resumed(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  ASSERT_TRUE(resumed.Restore(checkpoint).ok());
  const RunStatus s = resumed.Status();
  EXPECT_DOUBLE_EQ(s.time.compute_s(), 3);
  EXPECT_DOUBLE_EQ(s.time.upload_transfer_s(), 0.5);
  EXPECT_DOUBLE_EQ(s.workers[0].time.compute_s(), 3);
  EXPECT_DOUBLE_EQ(WallSeconds(s.workers[0].time), 4);

  tributary::v1::Checkpoint corrupt = checkpoint;
  corrupt.mutable_run()->mutable_counters()->mutable_time()->set_other_s(-1);
  TrainingRun refused(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.Restore(corrupt)));
  corrupt = checkpoint;
  corrupt.mutable_run()->mutable_workers(0)->mutable_time()->set_compute_s(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(absl::IsInvalidArgument(refused.Restore(corrupt)));
  EXPECT_EQ(WallSeconds(refused.Status().time), 0) << "a refused restore changes nothing";
}

// A run restored from its checkpoint is the run: the same weights, ledger,
// counters, history and worker records (sessions ended: they join again).
TEST(RunRestoreTest, ACheckpointedRunGoesOnWhereItStood) {
  FakeClock clock;
  auto dataset = TinyDataset(32, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_aggregation()->set_buffer_size(2);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SubmitConstant(run, a, LeaseTask(run, a), 0.1f * (i + 1)).ok());
  std::optional<EvalRequest> eval = run.WaitForEval(absl::ZeroDuration());
  ASSERT_TRUE(eval.has_value());
  run.RecordEval(*eval, LossStats{3.0, 2, 4});
  const tributary::v1::Task interrupted = LeaseTask(run, a);
  clock.Advance(absl::Seconds(7));

  const tributary::v1::Checkpoint checkpoint = run.MakeCheckpoint();
  const RunStatus before = run.Status();
  FakeClock later;
  TrainingRun resumed(job, *dataset, std::vector<float>(kNumParams, 9.0f), later);
  ASSERT_TRUE(resumed.Restore(checkpoint).ok());
  const RunStatus after = resumed.Status();
  EXPECT_EQ(after.model_version, before.model_version);
  EXPECT_EQ(after.buffered_updates, 1) << "the fifth update waits in the buffer";
  EXPECT_EQ(after.updates_applied, 5);
  EXPECT_EQ(after.samples_processed, before.samples_processed);
  EXPECT_EQ(after.staleness_histogram, before.staleness_histogram);
  EXPECT_EQ(after.eval_accuracy, before.eval_accuracy);
  EXPECT_EQ(after.shards.done, 5);
  EXPECT_EQ(after.shards.leased, 0);
  EXPECT_EQ(after.shards.pending, 3);
  EXPECT_NEAR(after.uptime_s, 7.0, 1e-6);
  EXPECT_EQ(resumed.History().size(), run.History().size());
  ASSERT_EQ(after.workers.size(), 1u);
  EXPECT_STREQ(WorkerStateName(after.workers[0].state), "lost");
  EXPECT_EQ(after.workers[0].updates_accepted, 5);
  EXPECT_TRUE(absl::IsUnauthenticated(resumed.Authenticate("sa").status()));
  EXPECT_EQ(resumed.MakeCheckpoint().params(), checkpoint.params());

  // Both finish the budget the same way, to the same weights.
  const std::string b = resumed.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  EXPECT_EQ(b, "w2") << "worker ids are never reused";
  EXPECT_EQ(resumed.LedgerItems()[0].shard, run.LedgerItems()[0].shard);
  const tributary::v1::Task redo = LeaseTask(resumed, b);
  EXPECT_EQ(redo.shard_id(), interrupted.shard_id());
  EXPECT_TRUE(absl::IsUnauthenticated(resumed.Authenticate("sa").status()));
  ASSERT_TRUE(SubmitConstant(resumed, b, redo, 0.4f).ok());
  ASSERT_TRUE(SubmitConstant(run, a, interrupted, 0.4f).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(SubmitConstant(resumed, b, LeaseTask(resumed, b), 0.5f).ok());
    ASSERT_TRUE(SubmitConstant(run, a, LeaseTask(run, a), 0.5f).ok());
  }
  EXPECT_EQ(resumed.Status().shards.done, 8);
  EXPECT_EQ(resumed.MakeCheckpoint().params(), run.MakeCheckpoint().params());
}

TEST(RunRestoreTest, RefusesACheckpointOfAnotherJobOrDatasetAndStaysAsItWas) {
  FakeClock clock;
  auto dataset = TinyDataset(12, 4);
  TrainingRun run(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  ASSERT_TRUE(SubmitConstant(run, a, LeaseTask(run, a)).ok());
  const tributary::v1::Checkpoint checkpoint = run.MakeCheckpoint();

  tributary::v1::JobSpec other_job = TinyJob();
  other_job.mutable_optimizer()->set_lr(0.5f);
  TrainingRun wrong_job(other_job, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong_job.Restore(checkpoint)));
  EXPECT_EQ(wrong_job.version(), 0u);

  tributary::v1::JobSpec other_interval = TinyJob();
  other_interval.mutable_checkpoint()->set_interval_s(5);
  TrainingRun new_interval(other_interval, *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(new_interval.Restore(checkpoint).ok()) << "how often to checkpoint may change";

  auto other_data = TinyDataset(12, 4, /*seed=*/2);
  TrainingRun wrong_data(TinyJob(), *other_data, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong_data.Restore(checkpoint)));

  tributary::v1::Checkpoint weights_only = checkpoint;
  weights_only.clear_run();
  TrainingRun old_format(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(absl::IsFailedPrecondition(old_format.Restore(weights_only)));

  tributary::v1::Checkpoint short_weights = checkpoint;
  short_weights.mutable_params()->resize(8);
  TrainingRun fresh(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock);
  EXPECT_TRUE(absl::IsInvalidArgument(fresh.Restore(short_weights)));
  EXPECT_EQ(fresh.Status().shards.done, 0);
  EXPECT_EQ(fresh.version(), 0u);
}

// An update whose Inspect() runs `inspect` first (to block, or to see
// whether the run read it at all), then reads as `value` everywhere.
class ProbedUpdate final : public UpdateSource {
 public:
  ProbedUpdate(std::function<absl::Status()> inspect, float value = 0.5f)
      : inspect_(std::move(inspect)), values_(kNumParams, value), inner_(values_, kNumParams) {}
  absl::StatusOr<double> Inspect() const override {
    if (absl::Status s = inspect_(); !s.ok()) return s;
    return inner_.Inspect();
  }
  void DecodeTo(absl::Span<float> out) const override { inner_.DecodeTo(out); }
  void AccumulateTo(float weight, absl::Span<float> acc, int threads) const override {
    inner_.AccumulateTo(weight, acc, threads);
  }

 private:
  std::function<absl::Status()> inspect_;
  std::vector<float> values_;
  DecodedUpdate inner_;
};

// The lock split (run.h): while a submit is being decoded and applied,
// the calls workers make all the time go on without waiting for it, and
// a checkpoint waits and then holds the update in the ledger and in the
// weights alike. The decoder blocks until the test lets it go; the test
// fails (rather than hangs) if any of those calls waited for the apply.
TEST_F(RunTest, CallsDoNotWaitForAnApplyAndCheckpointsSeeAllOfIt) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run_.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task task = Lease(a);
  absl::Notification decoding;
  absl::Notification release;
  absl::StatusOr<SubmitResult> submitted;
  std::thread submitter([&] {
    submitted = run_.Submit(a, HeaderFor(task), ProbedUpdate([&] {
                              decoding.Notify();
                              release.WaitForNotification();
                              return absl::OkStatus();
                            }),
                            100);
  });
  decoding.WaitForNotification();

  absl::Notification served;
  std::thread caller([&] {
    EXPECT_TRUE(run_.Authenticate("sb").ok());
    EXPECT_TRUE(run_.Heartbeat(b, 0).empty());
    EXPECT_TRUE(run_.GetTask(b).task.has_value());
    EXPECT_EQ(run_.Status().model_version, 0u);
    EXPECT_TRUE(run_.Model(0).ok());
    EXPECT_EQ(run_.version(), 0u);
    served.Notify();
  });
  const bool in_time = served.WaitForNotificationWithTimeout(absl::Seconds(30));
  EXPECT_TRUE(in_time) << "a call waited for the apply";

  tributary::v1::Checkpoint checkpoint;
  absl::Notification checkpointed;
  std::thread checkpointer([&] {
    checkpoint = run_.MakeCheckpoint();
    checkpointed.Notify();
  });
  release.Notify();
  submitter.join();
  caller.join();
  checkpointer.join();
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->model_version, 1u);
  // The checkpoint was taken before or after the whole submit, never between.
  const bool after = checkpoint.model_version() == 1;
  int done = 0;
  for (const auto& item : checkpoint.run().ledger().items()) {
    done += item.state() == tributary::v1::LedgerItemState::DONE;
  }
  EXPECT_EQ(done, after ? 1 : 0);
  EXPECT_EQ(checkpoint.run().counters().updates_applied(), after ? 1 : 0);
}

// A stale update is refused before it is decoded.
TEST_F(RunTest, AStaleUpdateIsNotDecoded) {
  job_.mutable_aggregation()->set_max_staleness(0);
  TrainingRun run(job_, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task old = LeaseTask(run, a);
  ASSERT_TRUE(SubmitConstant(run, b, LeaseTask(run, b)).ok());
  bool decoded = false;
  absl::StatusOr<SubmitResult> result = run.Submit(a, HeaderFor(old), ProbedUpdate([&] {
                                                     decoded = true;
                                                     return absl::OkStatus();
                                                   }),
                                                   100);
  EXPECT_TRUE(absl::IsAborted(result.status())) << result.status();
  EXPECT_FALSE(decoded);
  EXPECT_EQ(run.Status().rejected_by_reason.at("stale"), 1);
}

// An upload's header is enough to refuse a stale update, before its payload.
TEST_F(RunTest, AStaleUploadIsRefusedOnItsHeader) {
  job_.mutable_aggregation()->set_max_staleness(0);
  TrainingRun run(job_, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
  const std::string a = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const std::string b = run.Join({"b", "cpu", 1, "ip:test"}, "sb").value();
  const tributary::v1::Task old = LeaseTask(run, a);
  const tributary::v1::Task fresh = LeaseTask(run, b);
  EXPECT_TRUE(run.RefuseIfStale(a, HeaderFor(old)).ok()) << "not stale yet";
  ASSERT_TRUE(SubmitConstant(run, b, fresh).ok());
  const absl::Status refused = run.RefuseIfStale(a, HeaderFor(old));
  EXPECT_TRUE(absl::IsAborted(refused)) << refused;
  const RunStatus status = run.Status();
  EXPECT_EQ(status.rejected_by_reason.at("stale"), 1);
  EXPECT_EQ(status.shards.leased, 0) << "its shard is back in the queue";
  EXPECT_TRUE(absl::IsFailedPrecondition(SubmitConstant(run, a, old).status())) << "the lease is gone";
}

// An update the codec cannot decode is an invalid request: counted against
// its worker, its lease kept (the worker may send it again).
TEST_F(RunTest, AnUndecodableUpdateCountsAsInvalid) {
  const std::string a = run_.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  const tributary::v1::Task task = Lease(a);
  absl::StatusOr<SubmitResult> result =
      run_.Submit(a, HeaderFor(task), ProbedUpdate([] { return absl::DataLossError("truncated block"); }), 100);
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  EXPECT_NE(result.status().message().find("truncated block"), std::string::npos);
  const RunStatus status = run_.Status();
  EXPECT_EQ(status.workers.at(0).invalid_requests, 1);
  EXPECT_EQ(status.shards.leased, 1);
  EXPECT_TRUE(Submit(a, task).ok());
}

}  // namespace
}  // namespace tributary::coordinator
