// The trainer's two update kinds against the model driven by hand: the
// gradient (one local step) and the DiLoCo pseudo-gradient after H inner
// steps whose learning rates come from the task's schedule position.
#include "worker/trainer.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/job_limits.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

using tributary::v1::OptimizerSpec;

constexpr int kInputs = 6, kClasses = 3;
// The largest step the tests' models are built for.
constexpr int kMaxBatch = 12;

std::unique_ptr<Model> TinyMlp() {
  tributary::v1::ModelSpec spec;
  spec.mutable_mlp()->add_hidden(5);
  spec.mutable_mlp()->set_inputs(kInputs);
  spec.mutable_mlp()->set_classes(kClasses);
  return *CreateModel(spec, {kMaxBatch, /*threads=*/1});
}

std::string Records(int n) {
  std::mt19937 rng(3);
  std::string records;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kInputs; ++j) records.push_back(static_cast<char>(rng() % 256));
    records.push_back(static_cast<char>(rng() % kClasses));
  }
  return records;
}

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Plain SGD with a 10-step warmup to lr 1: step s has lr (s + 1) / 10.
OptimizerSpec WarmupSgd() {
  OptimizerSpec spec;
  spec.set_kind(OptimizerSpec::SGD);
  spec.set_lr(1.0f);
  spec.set_momentum(0.0f);
  spec.set_schedule(OptimizerSpec::CONSTANT);
  spec.set_warmup_steps(10);
  return spec;
}

class TrainerTest : public ::testing::Test {
 protected:
  TrainerTest() : trainer_(TinyMlp(), WarmupSgd(), 100), reference_(TinyMlp()) {
    params_.resize(reference_->layout().size());
    reference_->InitParams(absl::MakeSpan(params_), 9);
    update_.resize(params_.size());
  }

  tributary::v1::Task MakeTask(int local_steps, uint64_t schedule_step) const {
    tributary::v1::Task task;
    task.set_task_id(1);
    task.set_local_steps(local_steps);
    task.set_schedule_step(schedule_step);
    return task;
  }

  Trainer trainer_;
  std::unique_ptr<Model> reference_;
  std::vector<float> params_, update_;
};

// m1 = (1 - b) g1, m2 = b m1 + (1 - b) g2, by hand from the reference
// model's gradients of two shards at two sets of weights.
TEST_F(TrainerTest, WorkerMomentumSendsTheRunningAverage) {
  constexpr float kBeta = 0.75f;
  Trainer trainer(TinyMlp(), OptimizerSpec(), 0, kBeta);
  const std::string shard1 = Records(8), shard2 = Records(5);
  std::vector<float> params2 = params_;
  for (float& w : params2) w *= 0.5f;
  std::vector<float> g1(params_.size()), g2(params_.size()), update2(params_.size());
  reference_->ForwardBackward(params_, Bytes(shard1), absl::MakeSpan(g1)).value();
  reference_->ForwardBackward(params2, Bytes(shard2), absl::MakeSpan(g2)).value();
  ASSERT_TRUE(trainer.ComputeUpdate(MakeTask(1, 0), params_, shard1, absl::MakeSpan(update_)).ok());
  ASSERT_TRUE(trainer.ComputeUpdate(MakeTask(1, 1), params2, shard2, absl::MakeSpan(update2)).ok());
  for (size_t i = 0; i < params_.size(); ++i) {
    const double m1 = (1 - kBeta) * g1[i];
    EXPECT_NEAR(update_[i], m1, 1e-6 + 1e-5 * std::abs(m1)) << i;
    const double m2 = kBeta * m1 + (1 - kBeta) * g2[i];
    EXPECT_NEAR(update2[i], m2, 1e-6 + 1e-5 * std::abs(m2)) << i;
  }
}

TEST_F(TrainerTest, OneLocalStepSendsTheShardGradient) {
  const std::string shard = Records(8);
  auto stats = trainer_.ComputeUpdate(MakeTask(1, 0), params_, shard, absl::MakeSpan(update_));
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::vector<float> grads(params_.size());
  const LossStats expected = reference_->ForwardBackward(params_, Bytes(shard), absl::MakeSpan(grads)).value();
  EXPECT_EQ(stats->examples, 8);
  EXPECT_DOUBLE_EQ(stats->loss_sum, expected.loss_sum);
  EXPECT_EQ(update_, grads);
}

// Two batches of 4 from schedule position 3: lrs 0.4 then 0.5, and the
// update is what the two steps moved: base - local.
TEST_F(TrainerTest, LocalStepsSendBaseMinusLocalAtTheScheduledRates) {
  const std::string shard = Records(8);
  auto stats = trainer_.ComputeUpdate(MakeTask(2, 3), params_, shard, absl::MakeSpan(update_));
  ASSERT_TRUE(stats.ok()) << stats.status();

  std::vector<float> local = params_, grads(params_.size());
  LossStats expected = reference_->ForwardBackward(local, Bytes(shard).subspan(0, 4 * 7), absl::MakeSpan(grads)).value();
  for (size_t i = 0; i < local.size(); ++i) local[i] -= 0.4f * grads[i];
  expected += reference_->ForwardBackward(local, Bytes(shard).subspan(4 * 7), absl::MakeSpan(grads)).value();
  for (size_t i = 0; i < local.size(); ++i) local[i] -= 0.5f * grads[i];

  EXPECT_EQ(stats->examples, 8);
  EXPECT_NEAR(stats->loss_sum, expected.loss_sum, 1e-9);
  double moved = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    EXPECT_NEAR(update_[i], params_[i] - local[i], 1e-6) << i;
    moved += std::abs(update_[i]);
  }
  EXPECT_GT(moved, 1e-3);
}

// A job with a wall-clock budget sends the schedule's length with each
// task; it replaces the one given at join, and 0 means "the join's".
TEST_F(TrainerTest, ATasksScheduleLengthReplacesTheJoins) {
  OptimizerSpec cosine = WarmupSgd();
  cosine.set_warmup_steps(0);
  cosine.set_schedule(OptimizerSpec::COSINE);
  const std::string shard = Records(8);
  tributary::v1::Task task = MakeTask(2, 3);
  std::vector<float> joined_short(params_.size()), sent_short(params_.size()), joined_long(params_.size());
  ASSERT_TRUE(Trainer(TinyMlp(), cosine, 4).ComputeUpdate(task, params_, shard, absl::MakeSpan(joined_short)).ok());
  ASSERT_TRUE(Trainer(TinyMlp(), cosine, 100).ComputeUpdate(task, params_, shard, absl::MakeSpan(joined_long)).ok());
  task.set_schedule_total_steps(4);
  ASSERT_TRUE(Trainer(TinyMlp(), cosine, 100).ComputeUpdate(task, params_, shard, absl::MakeSpan(sent_short)).ok());
  EXPECT_EQ(sent_short, joined_short);
  EXPECT_NE(sent_short, joined_long);
}

TEST_F(TrainerTest, MoreStepsThanExamplesTakesOneStepPerExample) {
  const std::string shard = Records(2);
  auto stats = trainer_.ComputeUpdate(MakeTask(5, 0), params_, shard, absl::MakeSpan(update_));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->examples, 2);
}

TEST_F(TrainerTest, RejectsWhatDoesNotFit) {
  const std::string shard = Records(4);
  EXPECT_EQ(trainer_.ComputeUpdate(MakeTask(0, 0), params_, shard, absl::MakeSpan(update_)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer_.ComputeUpdate(MakeTask(1, 0), params_, shard.substr(1), absl::MakeSpan(update_))
                .status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> short_params(params_.begin(), params_.end() - 1);
  EXPECT_EQ(trainer_.ComputeUpdate(MakeTask(1, 0), short_params, shard, absl::MakeSpan(update_)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The worker refuses the local steps a job could not ask for
// (common/job_limits.h), whatever coordinator sent the task.
TEST_F(TrainerTest, LocalStepsAreBoundedAsInTheJob) {
  const std::string shard = Records(1);
  EXPECT_TRUE(trainer_.CheckTask(MakeTask(kMaxLocalSteps, 0), shard).ok());
  const absl::Status refused = trainer_.CheckTask(MakeTask(kMaxLocalSteps + 1, 0), shard);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), absl::StrCat("task 1: local_steps must be in [1, ", kMaxLocalSteps, "], got ",
                                            kMaxLocalSteps + 1));
}

TEST_F(TrainerTest, RejectsAStepLargerThanTheModelWasBuiltFor) {
  const std::string shard = Records(kMaxBatch + 1);
  const auto one_step = trainer_.ComputeUpdate(MakeTask(1, 0), params_, shard, absl::MakeSpan(update_));
  EXPECT_EQ(one_step.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(one_step.status().message().find("exceeds the 12 the model was built for"), absl::string_view::npos)
      << one_step.status();
  EXPECT_TRUE(trainer_.ComputeUpdate(MakeTask(2, 0), params_, shard, absl::MakeSpan(update_)).ok())
      << "two steps of 7 examples fit";
}

// Step by step, as overlapped tasks run: the same as ComputeUpdate.
TEST_F(TrainerTest, StepByStepIsComputeUpdate) {
  const std::string shard = Records(9);
  const tributary::v1::Task task = MakeTask(3, 2);
  ASSERT_TRUE(trainer_.ComputeUpdate(task, params_, shard, absl::MakeSpan(update_)).ok());
  Trainer stepped(TinyMlp(), WarmupSgd(), 100);
  ASSERT_TRUE(stepped.CheckTask(task, shard).ok());
  stepped.Begin(params_);
  ASSERT_EQ(stepped.Steps(task, shard), 3);
  LossStats stats;
  for (int i = 0; i < 3; ++i) stats += stepped.Step(task, i, shard).value();
  std::vector<float> update(params_.size());
  stepped.PseudoGradient(params_, absl::MakeSpan(update));
  EXPECT_EQ(update, update_);
  EXPECT_EQ(stats.examples, 9);
}

// Overlap: a second task's steps start from the weights that were sent;
// when the global model g' arrives the local weights become
// g' + (local - sent), and the second update is g' - local: exactly the
// second task's own progress, whatever g' is.
TEST_F(TrainerTest, RebaseCarriesTheProgressSinceTheSendOntoTheNewModel) {
  const std::string shard1 = Records(4), shard2 = Records(6);
  const tributary::v1::Task task1 = MakeTask(2, 0), task2 = MakeTask(2, 2);
  // One long run of four local steps, for reference.
  Trainer straight(TinyMlp(), WarmupSgd(), 100);
  straight.Begin(params_);
  for (int i = 0; i < 2; ++i) straight.Step(task1, i, shard1).value();
  const std::vector<float> sent(straight.local().begin(), straight.local().end());
  for (int i = 0; i < 2; ++i) straight.Step(task2, i, shard2).value();

  Trainer overlapped(TinyMlp(), WarmupSgd(), 100);
  overlapped.Begin(params_);
  for (int i = 0; i < 2; ++i) overlapped.Step(task1, i, shard1).value();
  std::vector<float> first(params_.size());
  overlapped.PseudoGradient(params_, absl::MakeSpan(first));
  for (int i = 0; i < 2; ++i) overlapped.Step(task2, i, shard2).value();
  // The coordinator applied the first update and more: g' = base - first + d.
  std::vector<float> global(params_.size());
  for (size_t i = 0; i < global.size(); ++i) global[i] = params_[i] - first[i] + 0.01f * static_cast<float>(i % 7);
  overlapped.Rebase(global, sent);
  std::vector<float> second(params_.size());
  overlapped.PseudoGradient(global, absl::MakeSpan(second));
  for (size_t i = 0; i < params_.size(); ++i) {
    EXPECT_NEAR(first[i], params_[i] - sent[i], 1e-6) << i;
    EXPECT_NEAR(overlapped.local()[i], straight.local()[i] + 0.01f * static_cast<float>(i % 7), 1e-5) << i;
    EXPECT_NEAR(second[i], sent[i] - straight.local()[i], 1e-5) << i;
  }
}

struct Seen {
  int64_t done, steps, examples;
};

// The display's per-step hook: every local step, in order, with its batch.
TEST_F(TrainerTest, TheStepHookSeesEveryLocalStep) {
  std::vector<Seen> seen;
  trainer_.set_step_hook([&](int64_t done, int64_t steps, const LossStats& step) {
    seen.push_back({done, steps, step.examples});
  });
  const std::string shard = Records(12);
  ASSERT_TRUE(trainer_.ComputeUpdate(MakeTask(3, 0), params_, shard, absl::MakeSpan(update_)).ok());
  ASSERT_EQ(seen.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].done, i + 1);
    EXPECT_EQ(seen[i].steps, 3);
    EXPECT_EQ(seen[i].examples, 4);
  }
  seen.clear();
  ASSERT_TRUE(trainer_.ComputeUpdate(MakeTask(1, 0), params_, shard, absl::MakeSpan(update_)).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].done, 1);
  EXPECT_EQ(seen[0].steps, 1);
  EXPECT_EQ(seen[0].examples, 12);
}

}  // namespace
}  // namespace tributary::worker
