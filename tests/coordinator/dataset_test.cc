#include "coordinator/dataset.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

TEST(DatasetTest, ImageRecordsInterleavePixelsAndLabel) {
  IdxArray images{{2, 1, 3}, "abcdef"};
  IdxArray labels{{2}, std::string("\x01\x02", 2)};
  const auto records = ImageRecords(images, labels, 3, 10, "img");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, std::string("abc\x01" "def\x02", 8));
}

TEST(DatasetTest, ImageRecordsCheckShapesAndLabels) {
  IdxArray images{{2, 1, 3}, "abcdef"};
  EXPECT_FALSE(ImageRecords(images, IdxArray{{3}, "\x01\x01\x01"}, 3, 10, "img").ok());
  EXPECT_FALSE(ImageRecords(images, IdxArray{{2}, "\x01\x01"}, 4, 10, "img").ok());
  const auto bad_label = ImageRecords(images, IdxArray{{2}, "\x01\x09"}, 3, 5, "img");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.status().message().find("example 1 has label 9"), absl::string_view::npos);
}

TEST(DatasetTest, CutShardsCoversEveryRecordOnce) {
  const std::string records(10 * 4, 'x');
  const auto shards = CutShards(records, 4, 3);
  ASSERT_EQ(shards.size(), 4u);
  EXPECT_EQ(shards[3].examples, 1);
  int64_t covered = 0;
  for (const Shard& s : shards) {
    EXPECT_EQ(s.offset, covered);
    covered += s.bytes;
    EXPECT_EQ(s.sha256, Sha256(absl::string_view(records).substr(s.offset, s.bytes)));
  }
  EXPECT_EQ(covered, 40);
}

TEST(DatasetTest, MissingFilesAreNamed) {
  tributary::v1::JobSpec job;
  job.mutable_model()->mutable_mlp();
  job.mutable_data()->mutable_fashion_mnist()->set_dir("/nonexistent/fmnist");
  const auto dataset = LoadDataset(job);
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find("/nonexistent/fmnist/train-images-idx3-ubyte.gz"),
            absl::string_view::npos)
      << dataset.status();
}

}  // namespace
}  // namespace tributary::coordinator
