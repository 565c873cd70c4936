// Simulation testing of the coordinator core, after FoundationDB's: the
// TrainingRun (ledger, aggregator, registry, counters) is driven through
// thousands of random schedules of joins, leases, heartbeats, silences,
// departures, late and duplicate submits, checkpoints and crashes restored
// from the last checkpoint, all on a fake clock from one seed. After every
// step the run must agree with an oracle that knows nothing of its insides.
//
// The oracle's trick: the model has a coordinate per work item (epoch,
// shard), and the update for an item is the unit vector on its coordinate.
// With SGD at lr 1, no momentum, and the mean over a buffer of f updates,
// an applied item moves its coordinate by exactly -1/f, and nothing else
// does. So the weights themselves show which items were applied, and how
// often: a lost shard or an update applied twice is a wrong coordinate.
//
// Half the schedules also have a wall-clock budget (budget.seconds), which
// may end the run before its epochs: no task may be leased after the
// deadline, no update applied after the end, and the items done stay
// exactly those the weights show.
//
// A failing schedule prints its seed; replay it alone with
//   TRIBUTARY_SIM_SEED=<seed> build/bin/simulation_test
// and TRIBUTARY_SIM_SCHEDULES=<n> runs more (or fewer) than the default.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/run.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

// The MLP 6 -> 4 -> 3 has 43 weights; the budget must not exceed them.
constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;
constexpr int kShards = 7;
constexpr int kEpochs = 3;
constexpr int kExamplesPerShard = 2;
constexpr int kStepsPerSchedule = 160;
constexpr int kDefaultSchedules = 2000;
static_assert(kShards * kEpochs <= kNumParams);

int Coordinate(uint32_t epoch, uint32_t shard) { return static_cast<int>(epoch * kShards + shard); }

struct SimWorker {
  std::string session;
  std::string id;  // Empty until it has joined (again).
  std::optional<tributary::v1::Task> task;
  std::vector<tributary::v1::Task> old_tasks;  // Submitted or abandoned: for late and duplicate submits.
};

// What the weights must be, kept apart from the run.
struct Oracle {
  std::vector<double> params = std::vector<double>(kNumParams, 0.0);
  std::vector<int> buffered;  // Coordinates accepted but not yet applied.
  int64_t applied = 0;        // Accepted submits (applied or buffered).
  uint64_t version = 0;

  // An accepted submit of `coordinate`; the run reports the version after it.
  void Accept(int coordinate, uint64_t new_version) {
    ++applied;
    buffered.push_back(coordinate);
    if (new_version == version) return;
    const double step = 1.0 / static_cast<double>(buffered.size());
    for (int c : buffered) params[c] -= step;
    buffered.clear();
    version = new_version;
  }

  // The run applied its partly filled buffer by itself (a time budget ended).
  void Flush(uint64_t new_version) {
    for (int c : buffered) params[c] -= 1.0 / static_cast<double>(buffered.size());
    buffered.clear();
    version = new_version;
  }
};

class Simulation {
 public:
  explicit Simulation(uint64_t seed)
      : rng_(seed), dataset_(TinyDataset(kShards * kExamplesPerShard, kExamplesPerShard, seed)) {
    job_ = TinyJob();
    job_.set_seed(seed);
    job_.mutable_budget()->set_epochs(kEpochs);
    auto* opt = job_.mutable_optimizer();
    opt->set_kind(tributary::v1::OptimizerSpec::SGD);
    opt->set_lr(1.0f);
    opt->set_momentum(0.0f);
    opt->set_warmup_steps(0);
    opt->set_schedule(tributary::v1::OptimizerSpec::CONSTANT);
    auto* agg = job_.mutable_aggregation();
    agg->set_buffer_size(std::uniform_int_distribution<int>(1, 3)(rng_));
    agg->set_max_staleness(std::uniform_int_distribution<int>(1, 6)(rng_));
    agg->set_weighting(tributary::v1::AggregationSpec::CONSTANT);
    agg->set_rule(tributary::v1::AggregationSpec::MEAN);
    job_.mutable_eval()->set_interval_versions(4);
    job_.mutable_lease()->set_lease_timeout_s(20);
    job_.mutable_lease()->set_heartbeat_timeout_s(8);
    job_.mutable_lease()->set_heartbeat_interval_s(2);
    job_.mutable_lease()->set_max_invalid_requests(1000);
    if (Chance(0.5)) job_.mutable_budget()->set_seconds(std::uniform_int_distribution<int>(5, 100)(rng_));
    StartFresh();
  }

  void Run() {
    for (int step = 0; step < kStepsPerSchedule && !::testing::Test::HasFatalFailure(); ++step) {
      Step();
      if (::testing::Test::HasFatalFailure()) return;
      FollowTheEnd();
      CheckInvariants(absl::StrCat("after step ", step, " (", last_action_, ")"));
    }
    if (!::testing::Test::HasFatalFailure()) Finish();
  }

 private:
  void StartFresh() {
    run_ = std::make_unique<TrainingRun>(job_, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
    oracle_ = Oracle();
  }

  // The coordinator dies: everything since the last checkpoint is gone,
  // and so are all sessions.
  void CrashAndRestore() {
    run_ = std::make_unique<TrainingRun>(job_, *dataset_, std::vector<float>(kNumParams, 0.0f), clock_);
    oracle_ = Oracle();
    if (checkpoint_) {
      tributary::v1::Checkpoint parsed;
      ASSERT_TRUE(parsed.ParseFromString(*checkpoint_));
      const absl::Status restored = run_->Restore(parsed);
      ASSERT_TRUE(restored.ok()) << restored;
      oracle_ = checkpoint_oracle_;
    }
    for (SimWorker& w : workers_) w.id.clear();  // Each must join again.
    last_version_seen_ = oracle_.version;  // The checkpoint's; CheckInvariants holds the run to it.
    ++crashes_;
  }

  SimWorker& RandomWorker() { return workers_[rng_() % workers_.size()]; }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  void Step() {
    if (workers_.size() < 4 && (workers_.empty() || Chance(0.05))) {
      workers_.emplace_back();
      workers_.back().session = absl::StrCat("s", next_session_++);
    }
    SimWorker& w = RandomWorker();
    const int action = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (w.id.empty() || action < 4) {
      last_action_ = "join";
      w.session = absl::StrCat("s", next_session_++);
      w.id = run_->Join({"sim", "cpu", 1, "ip:sim"}, w.session).value();
      if (w.task) w.old_tasks.push_back(*std::exchange(w.task, std::nullopt));
    } else if (action < 30) {
      last_action_ = "get task";
      if (!Authenticated(w)) return;
      TaskDecision decision = run_->GetTask(w.id);
      if (decision.task && job_.budget().seconds() > 0) {
        ASSERT_LT(run_->Status().uptime_s, job_.budget().seconds()) << "a task leased after the deadline";
      }
      if (w.task) w.old_tasks.push_back(*std::exchange(w.task, std::nullopt));
      if (decision.task) w.task = decision.task;
    } else if (action < 55) {
      last_action_ = "submit";
      if (w.task) Submit(w, *std::exchange(w.task, std::nullopt), /*fresh=*/true);
    } else if (action < 65) {
      last_action_ = "late or duplicate submit";
      if (!w.old_tasks.empty()) Submit(w, w.old_tasks[rng_() % w.old_tasks.size()], /*fresh=*/false);
    } else if (action < 75) {
      last_action_ = "heartbeat";
      if (Authenticated(w)) run_->Heartbeat(w.id, w.task ? w.task->task_id() : 0);
    } else if (action < 85) {
      last_action_ = "time passes";
      clock_.Advance(absl::Milliseconds(std::uniform_int_distribution<int>(100, 12000)(rng_)));
    } else if (action < 88) {
      last_action_ = "leave";
      if (Authenticated(w)) run_->Leave(w.id);
    } else if (action < 92) {
      last_action_ = "evaluate";
      if (std::optional<EvalRequest> request = run_->WaitForEval(absl::ZeroDuration())) {
        run_->RecordEval(*request, LossStats{1.0, 1, 2});
      }
    } else if (action < 97) {
      last_action_ = "checkpoint";
      checkpoint_ = run_->MakeCheckpoint().SerializeAsString();
      checkpoint_oracle_ = oracle_;
    } else {
      last_action_ = "crash and restore";
      CrashAndRestore();
    }
  }

  // The end of a time budget applies a partly filled buffer, outside any
  // submit; the oracle follows.
  void FollowTheEnd() {
    if (run_->Status().budget.ended_by == "time" && !oracle_.buffered.empty()) oracle_.Flush(run_->version());
  }

  // The service's first step on every call after Join.
  bool Authenticated(SimWorker& w) {
    absl::StatusOr<std::string> id = run_->Authenticate(w.session);
    if (!id.ok()) {
      w.id.clear();  // Lost, left or a restarted coordinator: join again.
      return false;
    }
    EXPECT_EQ(*id, w.id);
    return true;
  }

  void Submit(SimWorker& w, const tributary::v1::Task& task, bool fresh) {
    if (!Authenticated(w)) {
      w.old_tasks.push_back(task);
      return;
    }
    std::vector<float> update(kNumParams, 0.0f);
    const int coordinate = Coordinate(task.epoch(), task.shard_id());
    update[coordinate] = 1.0f;
    const tributary::v1::UpdateHeader header = HeaderFor(task);
    // LedgerItems() is a copy: keep what is needed, not a pointer into it.
    bool was_done = false;
    for (const WorkItem& i : run_->LedgerItems()) {
      if (i.epoch == task.epoch() && i.shard == task.shard_id()) was_done = i.state == WorkState::kDone;
    }
    FollowTheEnd();
    const bool ended = run_->Status().budget.ended_by == "time";
    const uint64_t version_before = run_->version();
    absl::StatusOr<SubmitResult> result = run_->Submit(w.id, header, update, kNumParams * 4);
    if (result.ok() && result->applied) {
      ASSERT_FALSE(was_done) << "task " << task.task_id() << ": an item already done was applied again";
      ASSERT_FALSE(ended) << "task " << task.task_id() << ": applied after the time budget ended";
      ASSERT_GE(result->model_version, version_before);
      oracle_.Accept(coordinate, result->model_version);
    } else {
      ASSERT_EQ(run_->version(), version_before) << "a refused or duplicate submit moved the model";
    }
    if (fresh) w.old_tasks.push_back(task);
  }

  void CheckInvariants(const std::string& when) {
    SCOPED_TRACE(when);
    const RunStatus status = run_->Status();
    const std::vector<WorkItem> items = run_->LedgerItems();
    ASSERT_EQ(static_cast<int>(items.size()), kShards * kEpochs);
    LedgerCounts counted;
    counted.total = static_cast<int64_t>(items.size());
    std::map<std::pair<uint32_t, uint32_t>, int> seen;
    for (const WorkItem& item : items) {
      const int copies = ++seen[std::make_pair(item.epoch, item.shard)];
      ASSERT_EQ(copies, 1) << "an item twice in the ledger";
      ASSERT_EQ(item.completions, item.state == WorkState::kDone ? 1 : 0)
          << "epoch " << item.epoch << " shard " << item.shard;
      ++(item.state == WorkState::kDone ? counted.done : item.state == WorkState::kLeased ? counted.leased
                                                                                         : counted.pending);
    }
    ASSERT_EQ(status.shards.done, counted.done);
    ASSERT_EQ(status.shards.leased, counted.leased);
    ASSERT_EQ(status.shards.pending, counted.pending);
    ASSERT_EQ(status.shards.total, counted.total);
    // Every accepted submit completed one item, and every done item came from one.
    ASSERT_EQ(status.updates_applied, counted.done);
    ASSERT_EQ(status.updates_applied, oracle_.applied);
    ASSERT_EQ(status.samples_processed, counted.done * kExamplesPerShard);
    ASSERT_EQ(status.buffered_updates, static_cast<int>(oracle_.buffered.size()));
    ASSERT_EQ(status.model_version, oracle_.version);
    ASSERT_GE(status.model_version, last_version_seen_) << "versions went backwards without a crash";
    last_version_seen_ = status.model_version;
    const tributary::v1::Checkpoint now = run_->MakeCheckpoint();
    const auto* params = reinterpret_cast<const float*>(now.params().data());
    for (int c = 0; c < kNumParams; ++c) {
      ASSERT_NEAR(params[c], oracle_.params[c], 1e-5) << "coordinate " << c;
    }
    // Each item's coordinate says whether it is in the model: done and
    // applied, done and buffered, or not done.
    for (const WorkItem& item : items) {
      const int c = Coordinate(item.epoch, item.shard);
      const bool buffered = std::find(oracle_.buffered.begin(), oracle_.buffered.end(), c) != oracle_.buffered.end();
      ASSERT_EQ(params[c] < 0, item.state == WorkState::kDone && !buffered) << "coordinate " << c;
    }
    if (status.budget.ended_by == "time") {
      ASSERT_EQ(status.shards.leased, 0) << "a lease outlived the end";
    }
    int64_t accepted_by_workers = 0;
    for (const WorkerRecord& worker : status.workers) accepted_by_workers += worker.updates_accepted;
    ASSERT_EQ(accepted_by_workers, status.updates_applied);
  }

  // Runs the budget to its end with one well-behaved worker.
  void Finish() {
    SimWorker finisher;
    for (int i = 0; i < 10 * kShards * kEpochs; ++i) {
      if (finisher.id.empty() || !Authenticated(finisher)) {
        finisher.session = absl::StrCat("s", next_session_++);
        finisher.id = run_->Join({"finisher", "cpu", 1, "ip:sim"}, finisher.session).value();
      }
      TaskDecision decision = run_->GetTask(finisher.id);
      if (decision.job_done) break;
      if (!decision.task) {
        // The rest is leased to silent workers: their leases expire with time.
        clock_.Advance(absl::Seconds(5));
        continue;
      }
      Submit(finisher, *decision.task, /*fresh=*/true);
      if (::testing::Test::HasFatalFailure()) return;
    }
    // Leases of silent workers hold a time budget's end for its grace at most.
    clock_.Advance(absl::Seconds(job_.lease().lease_timeout_s()));
    run_->Tick();
    FollowTheEnd();
    CheckInvariants("at the end");
    const RunStatus status = run_->Status();
    ASSERT_FALSE(status.budget.ended_by.empty()) << "the run has not ended";
    if (status.budget.ended_by == "time") {
      ASSERT_EQ(status.budget.epochs.complete_epochs * kShards + status.budget.epochs.partial_epoch_shards,
                status.shards.done);
      ++ended_by_time_;
      return;
    }
    ASSERT_EQ(status.shards.done, status.shards.total) << "a shard was lost";
    ASSERT_EQ(status.buffered_updates, 0) << "the last partial buffer must be applied";
    for (int c = 0; c < kShards * kEpochs; ++c) ASSERT_LT(oracle_.params[c], 0) << "coordinate " << c;
  }

 public:
  int crashes() const { return crashes_; }
  int ended_by_time() const { return ended_by_time_; }

 private:
  std::mt19937_64 rng_;
  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  tributary::v1::JobSpec job_;
  std::unique_ptr<TrainingRun> run_;
  Oracle oracle_;
  std::optional<std::string> checkpoint_;
  Oracle checkpoint_oracle_;
  std::vector<SimWorker> workers_;
  int next_session_ = 1;
  int crashes_ = 0;
  int ended_by_time_ = 0;
  uint64_t last_version_seen_ = 0;
  std::string last_action_;
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

TEST(SimulationTest, RandomSchedulesKeepTheLedgerAndTheModelExact) {
  SetMinLogLevel(LogLevel::kError);
  const char* replay = std::getenv("TRIBUTARY_SIM_SEED");
  const uint64_t first = replay != nullptr ? EnvOr("TRIBUTARY_SIM_SEED", 1) : 1;
  const uint64_t count = replay != nullptr ? 1 : EnvOr("TRIBUTARY_SIM_SCHEDULES", kDefaultSchedules);
  int crashes = 0, ended_by_time = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, "; replay with TRIBUTARY_SIM_SEED=", seed));
    Simulation simulation(seed);
    simulation.Run();
    crashes += simulation.crashes();
    ended_by_time += simulation.ended_by_time();
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "schedule with seed " << seed << " failed; replay: TRIBUTARY_SIM_SEED=" << seed
                    << " build/bin/simulation_test";
      return;
    }
  }
  SetMinLogLevel(LogLevel::kInfo);
  if (count >= 100) {
    EXPECT_GT(crashes, static_cast<int>(count / 2)) << "the schedules must include crashes";
    EXPECT_GT(ended_by_time, static_cast<int>(count / 10)) << "and runs cut short by their time budget";
  }
}

}  // namespace
}  // namespace tributary::coordinator
