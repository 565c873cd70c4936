#include "common/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest() : dir_(fs::path(::testing::TempDir()) / ("ckpt-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
  }
  ~CheckpointTest() override { fs::remove_all(dir_); }

  // A checkpoint of a tiny MLP (4 inputs, 2 classes, no hidden layer
  // beyond one of 1): 4*1 + 1 + 1*2 + 2 = 9 weights.
  tributary::v1::Checkpoint Make(uint64_t version) const {
    tributary::v1::Checkpoint checkpoint;
    auto* mlp = checkpoint.mutable_job()->mutable_model()->mutable_mlp();
    mlp->add_hidden(1);
    mlp->set_inputs(4);
    mlp->set_classes(2);
    checkpoint.set_model_version(version);
    std::vector<float> params(9);
    for (size_t i = 0; i < params.size(); ++i) params[i] = version + 0.5f * i;
    checkpoint.set_params(std::string(reinterpret_cast<const char*>(params.data()), params.size() * 4));
    return checkpoint;
  }

  std::string dir() const { return dir_.string(); }

  fs::path dir_;
};

TEST_F(CheckpointTest, RoundTripsAndKeepsTheNewestTwo) {
  for (uint64_t version : {5, 10, 15}) ASSERT_TRUE(WriteCheckpoint(dir(), Make(version)).ok());
  const std::vector<std::string> files = ListCheckpoints(dir());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_THAT(files[0], HasSubstr("checkpoint-000000000015.tckpt"));
  EXPECT_THAT(files[1], HasSubstr("checkpoint-000000000010.tckpt"));

  absl::StatusOr<tributary::v1::Checkpoint> loaded = LoadCheckpoint(dir());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model_version(), 15u);
  absl::StatusOr<std::vector<float>> params = CheckpointParams(*loaded);
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(*params, (std::vector<float>{15, 15.5, 16, 16.5, 17, 17.5, 18, 18.5, 19}));
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(".tmp"))) << "no temp files left";
  }
}

// A torn newest file (a crash mid-copy, or a planted one) is detected and
// the previous checkpoint is used; a flipped byte fails the digest.
TEST_F(CheckpointTest, CorruptNewestFallsBackToThePrevious) {
  ASSERT_TRUE(WriteCheckpoint(dir(), Make(1)).ok());
  const std::string newest = *WriteCheckpoint(dir(), Make(2));
  fs::resize_file(newest, fs::file_size(newest) - 3);
  EXPECT_THAT(std::string(ReadCheckpointFile(newest).status().message()), HasSubstr("truncated"));
  absl::StatusOr<tributary::v1::Checkpoint> loaded = LoadCheckpoint(dir());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model_version(), 1u);

  const std::string older = ListCheckpoints(dir())[1];
  {
    std::fstream f(older, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  const absl::Status status = LoadCheckpoint(dir()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("SHA-256 mismatch"));
}

// Resuming moves a torn newest file aside, so it never again shadows the
// good ones or takes a place among the two kept; with no good one at all,
// nothing is moved.
TEST_F(CheckpointTest, ResumingMovesTornFilesAsideOnlyWhenAGoodOneIsFound) {
  ASSERT_TRUE(WriteCheckpoint(dir(), Make(1)).ok());
  const std::string torn = *WriteCheckpoint(dir(), Make(7));
  fs::resize_file(torn, fs::file_size(torn) / 2);
  absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpointToResume(dir());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->checkpoint.model_version(), 1u);
  EXPECT_THAT(loaded->path, HasSubstr("checkpoint-000000000001.tckpt"));
  EXPECT_TRUE(fs::exists(torn + ".corrupt"));
  ASSERT_TRUE(WriteCheckpoint(dir(), Make(2)).ok());
  EXPECT_EQ(ListCheckpoints(dir()).size(), 2u) << "versions 2 and 1, the torn 7 no longer counted";

  for (const std::string& path : ListCheckpoints(dir())) fs::resize_file(path, 10);
  EXPECT_FALSE(LoadCheckpointToResume(dir()).ok());
  EXPECT_EQ(ListCheckpoints(dir()).size(), 2u) << "kept for a human to look at";
  EXPECT_EQ(LoadCheckpointToResume((dir_ / "empty").string()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ErrorsNameTheProblem) {
  EXPECT_EQ(LoadCheckpoint(dir()).status().code(), absl::StatusCode::kNotFound);
  fs::create_directories(dir_);
  const std::string junk = (dir_ / "junk").string();
  std::ofstream(junk) << "not a checkpoint at all, but long enough to have a header........";
  EXPECT_THAT(std::string(ReadCheckpointFile(junk).status().message()), HasSubstr("no TRIBCKPT header"));
  tributary::v1::Checkpoint wrong = Make(3);
  wrong.mutable_params()->resize(8);
  EXPECT_THAT(std::string(CheckpointParams(wrong).status().message()), HasSubstr("needs 36"));
}

TEST_F(CheckpointTest, ParsesItsOwnEncodingAndRefusesEveryTruncation) {
  const tributary::v1::Checkpoint checkpoint = Make(7);
  const std::string file = *EncodeCheckpointFile(checkpoint);
  absl::StatusOr<tributary::v1::Checkpoint> parsed = ParseCheckpointFile(file, "mem");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), checkpoint.SerializeAsString());
  for (size_t n = 0; n < file.size(); ++n) {
    const absl::Status s = ParseCheckpointFile(absl::string_view(file).substr(0, n), "mem").status();
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << n;
    EXPECT_THAT(std::string(s.message()), HasSubstr("mem: "));
  }
}

}  // namespace
}  // namespace tributary
