#include "coordinator/checkpointer.h"

#include <filesystem>
#include <string>
#include <vector>

#include "common/checkpoint.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

namespace fs = std::filesystem;

// The MLP 6 -> 4 -> 3.
constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;

class CheckpointerTest : public ::testing::Test {
 protected:
  CheckpointerTest() : dir_(::testing::TempDir() + "/checkpointer-" + std::to_string(::getpid())) {
    fs::remove_all(dir_);
  }
  ~CheckpointerTest() override { fs::remove_all(dir_); }

  // One task leased and applied by worker `w`.
  void Step(TrainingRun& run, const std::string& w) {
    const tributary::v1::Task task = *run.GetTask(w).task;
    ASSERT_TRUE(run.Submit(w, HeaderFor(task), std::vector<float>(kNumParams, 0.1f), kNumParams * 4).ok());
  }

  FakeClock clock_;
  std::string dir_;
};

TEST_F(CheckpointerTest, WritesEveryIntervalOfSecondsOrVersionsWhenTheRunMoved) {
  auto dataset = TinyDataset(40, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_checkpoint()->set_interval_s(60);
  job.mutable_checkpoint()->set_interval_versions(3);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock_);
  Checkpointer checkpointer(run, dir_, clock_);
  const std::string w = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();

  EXPECT_FALSE(checkpointer.MaybeWrite());
  for (int i = 0; i < 2; ++i) Step(run, w);
  EXPECT_FALSE(checkpointer.MaybeWrite()) << "2 of 3 versions, 0 of 60 s";
  Step(run, w);
  const std::optional<std::string> by_versions = checkpointer.MaybeWrite();
  ASSERT_TRUE(by_versions.has_value());
  EXPECT_EQ(ReadCheckpointFile(*by_versions)->model_version(), 3u);

  Step(run, w);
  clock_.Advance(absl::Seconds(59));
  EXPECT_FALSE(checkpointer.MaybeWrite());
  clock_.Advance(absl::Seconds(1));
  const std::optional<std::string> by_time = checkpointer.MaybeWrite();
  ASSERT_TRUE(by_time.has_value());
  EXPECT_EQ(ReadCheckpointFile(*by_time)->model_version(), 4u);

  clock_.Advance(absl::Seconds(120));
  EXPECT_FALSE(checkpointer.MaybeWrite()) << "nothing moved since version 4";
  EXPECT_FALSE(checkpointer.Write());
  Step(run, w);
  EXPECT_TRUE(checkpointer.Write()) << "shutdown writes what moved";
  EXPECT_EQ(ListCheckpoints(dir_).size(), 2u);
}

TEST_F(CheckpointerTest, AResumedRunIsNotWrittenAgainUntilItMoves) {
  auto dataset = TinyDataset(40, 4);
  TrainingRun run(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock_);
  const std::string w = run.Join({"a", "cpu", 1, "ip:test"}, "sa").value();
  Step(run, w);
  TrainingRun resumed(TinyJob(), *dataset, std::vector<float>(kNumParams, 0.0f), clock_);
  ASSERT_TRUE(resumed.Restore(run.MakeCheckpoint()).ok());
  Checkpointer checkpointer(resumed, dir_, clock_);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(checkpointer.MaybeWrite());
  EXPECT_FALSE(Checkpointer(resumed, "", clock_).Write()) << "no --state_dir, no checkpoints";
}

TEST_F(CheckpointerTest, ABanOrItsLiftingIsWrittenThoughTheModelDidNotMove) {
  auto dataset = TinyDataset(40, 4);
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_lease()->set_max_invalid_requests(1);
  TrainingRun run(job, *dataset, std::vector<float>(kNumParams, 0.0f), clock_);
  Checkpointer checkpointer(run, dir_, clock_);
  const std::string w = run.Join({"a", "cpu", 1, "token:a"}, "sa").value();
  ASSERT_TRUE(absl::IsPermissionDenied(run.RecordInvalid(w, absl::InvalidArgumentError("bad"))));

  const std::optional<std::string> banned = checkpointer.Write();
  ASSERT_TRUE(banned.has_value()) << "the ban was not written";
  ASSERT_EQ(ReadCheckpointFile(*banned)->run().bans_size(), 1);
  EXPECT_EQ(ReadCheckpointFile(*banned)->run().bans(0).identity(), "token:a");
  EXPECT_FALSE(checkpointer.Write());

  ASSERT_TRUE(run.LiftBan("token:a"));
  const std::optional<std::string> lifted = checkpointer.Write();
  ASSERT_TRUE(lifted.has_value()) << "the lifting was not written";
  EXPECT_EQ(ReadCheckpointFile(*lifted)->run().bans_size(), 0);
}

}  // namespace
}  // namespace tributary::coordinator
