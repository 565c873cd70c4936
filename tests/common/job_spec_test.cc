#include "common/job_spec.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/job_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using ::testing::HasSubstr;

// The built-in job is the flagship file, and it is valid (DefaultJobSpec
// would crash on an invalid one; this test is where that is caught).
TEST(JobSpecTest, DefaultJobIsTheGptOnFortunes) {
  ASSERT_TRUE(ParseJobSpec(kDefaultJobText, kDefaultJobName).ok());
  const tributary::v1::JobSpec job = DefaultJobSpec();
  EXPECT_EQ(job.name(), "gpt-fortunes");
  EXPECT_TRUE(job.model().has_gpt());
  EXPECT_EQ(job.data().text().files(0), "/usr/share/games/fortunes/*");
  EXPECT_EQ(job.inner_optimizer().kind(), tributary::v1::OptimizerSpec::ADAMW);
  EXPECT_GT(job.local_steps(), 1);
  EXPECT_TRUE(job.overlap());
  EXPECT_GT(job.budget().seconds(), 0);
}

TEST(JobSpecTest, EveryJobInDeployIsValid) {
  int jobs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TRIBUTARY_SOURCE_DIR "/deploy/jobs")) {
    const absl::StatusOr<tributary::v1::JobSpec> job = LoadJobSpec(entry.path().string());
    EXPECT_TRUE(job.ok()) << job.status();
    ++jobs;
  }
  EXPECT_GE(jobs, 3) << "the flagship GPT job, a larger one and the MLP";
}

TEST(JobSpecTest, AnEmptyJobIsTheFashionMnistMlp) {
  const auto job = ParseJobSpec("", "empty");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_TRUE(job->model().has_mlp());
  EXPECT_TRUE(job->data().has_fashion_mnist());
  EXPECT_EQ(job->codec().name(), "none");
  EXPECT_GT(job->budget().epochs(), 0);
}

TEST(JobSpecTest, ParsesFieldsAndKeepsDefaults) {
  const auto job = ParseJobSpec(R"(
    name: "quick"
    model { mlp { hidden: 32 hidden: 16 } }
    optimizer { lr: 0.1 }
  )", "quick.textproto");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name(), "quick");
  EXPECT_EQ(job->model().mlp().hidden_size(), 2);
  EXPECT_FLOAT_EQ(job->optimizer().lr(), 0.1f);
  EXPECT_FLOAT_EQ(job->optimizer().momentum(), 0.9f);
}

// Each named limit (common/job_limits.h) is accepted at its bound and
// refused one past it, by a message that states it.
TEST(JobSpecTest, LimitsHoldAtTheirBounds) {
  struct Case {
    const char* field;
    int64_t bound;
    std::string (*job)(int64_t value);
  };
  const Case cases[] = {
      {"local_steps", kMaxLocalSteps,
       [](int64_t n) { return absl::StrCat("local_steps: ", n, " data { shard_examples: 65536 }"); }},
      {"optimizer.momentum_period", kMaxMomentumPeriod,
       [](int64_t n) { return absl::StrCat("optimizer { kind: SGD nesterov: true momentum_period: ", n, " }"); }},
      {"data.shard_examples", kMaxShardExamples,
       [](int64_t n) { return absl::StrCat("data { shard_examples: ", n, " }"); }},
      {"aggregation.buffer_size", kMaxBufferSize,
       [](int64_t n) { return absl::StrCat("aggregation { buffer_size: ", n, " }"); }},
      {"aggregation.clip_iterations", kMaxClipIterations,
       [](int64_t n) { return absl::StrCat("aggregation { clip_iterations: ", n, " }"); }},
      {"aggregation.norm_window", kMaxNormWindow,
       [](int64_t n) { return absl::StrCat("aggregation { norm_window: ", n, " }"); }},
      {"budget.epochs", kMaxEpochs, [](int64_t n) { return absl::StrCat("budget { epochs: ", n, " }"); }},
  };
  for (const Case& c : cases) {
    const auto at_bound = ParseJobSpec(c.job(c.bound), "j");
    EXPECT_TRUE(at_bound.ok()) << c.field << ": " << at_bound.status();
    const auto past = ParseJobSpec(c.job(c.bound + 1), "j");
    ASSERT_FALSE(past.ok()) << c.field;
    EXPECT_THAT(std::string(past.status().message()),
                HasSubstr(absl::StrCat(c.field, ": must be in [1, ", c.bound, "], got ", c.bound + 1)));
  }
  EXPECT_TRUE(ParseJobSpec(absl::StrCat("name: \"", std::string(kMaxJobNameBytes, 'n'), "\""), "j").ok());
  EXPECT_THAT(
      std::string(
          ParseJobSpec(absl::StrCat("name: \"", std::string(kMaxJobNameBytes + 1, 'n'), "\""), "j").status().message()),
      HasSubstr(absl::StrCat("name: must be 1 to ", kMaxJobNameBytes, " characters")));
}

TEST(JobSpecTest, SyntaxErrorNamesFileAndLine) {
  const auto job = ParseJobSpec("name: \"x\"\noptimizer {\n  learning_rate: 3\n}\n", "bad.textproto");
  ASSERT_FALSE(job.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(job.status()));
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("bad.textproto:3:"));
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("learning_rate"));
}

TEST(JobSpecTest, SemanticErrorNamesFileLineAndField) {
  const auto job = ParseJobSpec("name: \"x\"\n\noptimizer {\n  lr: -0.1\n}\n", "job.textproto");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("job.textproto:4: optimizer.lr: must be in (0, 100], got -0.1"));
}

TEST(JobSpecTest, ReportsEveryProblem) {
  const auto job = ParseJobSpec("budget { epochs: 0 }\ncodec { name: \"zip\" }\n", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:1: budget.epochs"));
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:2: codec.name"));
}

TEST(JobSpecTest, BlockSizeIsForBlockwiseValuesOnly) {
  EXPECT_TRUE(ParseJobSpec("codec { name: \"int4\" block_size: 32 error_feedback: true }", "j").ok());
  EXPECT_TRUE(ParseJobSpec("codec { name: \"topk\" values: INT4 block_size: 32 }", "j").ok());
  const auto job = ParseJobSpec("codec {\n  name: \"fp16\"\n  block_size: 32\n}\n", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()),
              HasSubstr("j:3: codec.block_size: only a blockwise format (int8, int4) uses it"));
}

// Found by tests/fuzz/job_spec_fuzzer.cc's contract: this job was accepted,
// then its codec could not be created (topk indexes below 2^32) and its
// 8.6 G weights could not be allocated.
TEST(JobSpecTest, RefusesAModelTooLargeForACheckpoint) {
  const auto job = ParseJobSpec(
      "name: \"big\"\nmodel { mlp { inputs: 65536 hidden: 65536 hidden: 65536 classes: 10 } }\n"
      "codec { name: \"topk\" }\n",
      "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:2: model: has 8590721034 parameters"));
}

TEST(JobSpecTest, HeartbeatTimeoutMustExceedInterval) {
  const auto job = ParseJobSpec("lease { heartbeat_interval_s: 5 heartbeat_timeout_s: 2 }", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("lease.heartbeat_timeout_s"));
}

TEST(JobSpecTest, LocalStepsNeedAValidInnerOptimizerAndEnoughExamples) {
  const auto job = ParseJobSpec(
      "data { shard_examples: 4 }\nlocal_steps: 8\ninner_optimizer { beta2: 1.5 }\n", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:2: local_steps: must not exceed data.shard_examples (4)"));
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:3: inner_optimizer.beta2"));
  EXPECT_TRUE(ParseJobSpec("data { shard_examples: 8 }\nlocal_steps: 8\n", "j").ok());
  EXPECT_TRUE(ParseJobSpec("inner_optimizer { beta2: 1.5 }\n", "j").ok()) << "unused with one local step";
}

TEST(JobSpecTest, WorkerMomentumIsAFractionForGradientTasks) {
  EXPECT_TRUE(ParseJobSpec("worker_momentum: 0.9", "j").ok());
  for (const char* bad : {"worker_momentum: 1", "worker_momentum: -0.1", "worker_momentum: nan"}) {
    const auto job = ParseJobSpec(bad, "j");
    ASSERT_FALSE(job.ok()) << bad;
    EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:1: worker_momentum: must be in [0, 1)"));
  }
  const auto diloco = ParseJobSpec("data { shard_examples: 8 }\nlocal_steps: 4\nworker_momentum: 0.5\n", "j");
  ASSERT_FALSE(diloco.ok());
  EXPECT_THAT(std::string(diloco.status().message()), HasSubstr("j:3: worker_momentum: applies to gradients"));
}

TEST(JobSpecTest, QuorumIsForRobustRulesAndFitsTheBuffer) {
  EXPECT_TRUE(ParseJobSpec("aggregation { buffer_size: 10 rule: MEDIAN quorum: 10 }", "j").ok());
  const auto big = ParseJobSpec("aggregation { buffer_size: 10 rule: MEDIAN quorum: 11 }", "j");
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()),
              HasSubstr("aggregation.quorum: must be in [1, aggregation.buffer_size (10)]"));
  const auto mean = ParseJobSpec("aggregation { buffer_size: 10 quorum: 5 }", "j");
  ASSERT_FALSE(mean.ok());
  EXPECT_THAT(std::string(mean.status().message()), HasSubstr("aggregation.quorum: applies to robust rules"));
}

TEST(JobSpecTest, DelayedNesterovNeedsNesterovSgd) {
  EXPECT_TRUE(ParseJobSpec("optimizer { momentum_period: 4 }", "j").ok());
  for (const char* bad : {"optimizer { momentum_period: 4 kind: ADAMW }", "optimizer { momentum_period: 4 nesterov: false }",
                          "optimizer { momentum_period: 0 }"}) {
    const auto job = ParseJobSpec(bad, "j");
    ASSERT_FALSE(job.ok()) << bad;
    EXPECT_THAT(std::string(job.status().message()), HasSubstr("optimizer.momentum_period")) << bad;
  }
}

TEST(JobSpecTest, BudgetSecondsIsAFiniteDuration) {
  const auto job = ParseJobSpec("budget { epochs: 3 seconds: 600 }", "j");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_DOUBLE_EQ(job->budget().seconds(), 600);
  EXPECT_DOUBLE_EQ(ParseJobSpec("", "j")->budget().seconds(), 0) << "no time budget by default";
  for (const char* bad : {"budget {\n seconds: -1 }", "budget {\n seconds: nan }", "budget {\n seconds: inf }",
                          "budget {\n seconds: 1e9 }"}) {
    const auto refused = ParseJobSpec(bad, "j");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr("j:2: budget.seconds: must be in [0, 100000000] (0: no time budget), got"))
        << bad;
  }
}

TEST(JobSpecTest, OverlapNeedsMultiStepTasks) {
  const auto job = ParseJobSpec("name: \"x\"\noverlap: true\n", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("j:2: overlap: needs local_steps > 1"));
  EXPECT_TRUE(ParseJobSpec("overlap: true\nlocal_steps: 4\n", "j").ok());
  EXPECT_TRUE(ParseJobSpec("overlap: false\n", "j").ok());
}

TEST(JobSpecTest, SyncRoundsAndTheirQuorum) {
  const auto sync = ParseJobSpec("aggregation { mode: SYNC buffer_size: 8 sync_quorum: 6 straggler_grace_s: 2 }", "j");
  ASSERT_TRUE(sync.ok()) << sync.status();
  EXPECT_EQ(sync->aggregation().mode(), tributary::v1::AggregationSpec::SYNC);
  const auto big = ParseJobSpec("aggregation { mode: SYNC buffer_size: 8 sync_quorum: 9 }", "j");
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()),
              HasSubstr("aggregation.sync_quorum: must be in [0, aggregation.buffer_size (8)]"));
  const auto async = ParseJobSpec("aggregation { sync_quorum: 1 }", "j");
  ASSERT_FALSE(async.ok());
  EXPECT_THAT(std::string(async.status().message()), HasSubstr("sync_quorum: applies to aggregation.mode SYNC"));
  const auto grace = ParseJobSpec("aggregation { mode: SYNC straggler_grace_s: -1 }", "j");
  ASSERT_FALSE(grace.ok());
  EXPECT_THAT(std::string(grace.status().message()), HasSubstr("aggregation.straggler_grace_s: must be in [0,"));
  const auto overlap = ParseJobSpec("local_steps: 4\noverlap: true\naggregation { mode: SYNC }\n", "j");
  ASSERT_FALSE(overlap.ok());
  EXPECT_THAT(std::string(overlap.status().message()), HasSubstr("j:2: overlap: needs aggregation.mode ASYNC"));
}

TEST(JobSpecTest, GptDefaultsToTheFortunesCorpus) {
  const auto job = ParseJobSpec("model { gpt { layers: 2 } }", "j");
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->data().has_text());
  EXPECT_EQ(job->data().text().files(0), "/usr/share/games/fortunes/*");
  EXPECT_EQ(job->data().text().exclude_size(), 2);
}

TEST(JobSpecTest, DataMustSuitTheModel) {
  const auto job = ParseJobSpec("model { gpt {} }\ndata { fashion_mnist {} }\n", "j");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("needs an mlp model"));
}

TEST(JobSpecTest, MissingFileNamesThePath) {
  const auto job = LoadJobSpec("/nonexistent/job.textproto");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(std::string(job.status().message()), HasSubstr("/nonexistent/job.textproto"));
}

}  // namespace
}  // namespace tributary
