#include "coordinator/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

TEST(DatasetTest, ShuffleRecordsPermutesWholeRecordsBySeed) {
  std::string records;
  for (int i = 0; i < 100; ++i) records += absl::StrFormat("%03d", i);
  std::string a = records, b = records, c = records;
  ShuffleRecords(a, 3, 1);
  ShuffleRecords(b, 3, 1);
  ShuffleRecords(c, 3, 2);
  EXPECT_EQ(a, b) << "the same seed, the same order";
  EXPECT_NE(a, c);
  EXPECT_NE(a, records);
  std::vector<std::string> sorted;
  for (size_t i = 0; i < a.size(); i += 3) sorted.push_back(a.substr(i, 3));
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(absl::StrJoin(sorted, ""), records) << "every record once, whole";
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

namespace tributary::coordinator {
namespace {

TEST(TextDatasetTest, SequencesOverlapByOneByte) {
  EXPECT_EQ(SequenceRecords("abcdefghij", 3), "abcddefgghij");
  EXPECT_EQ(SequenceRecords("abc", 3), "");
}

TEST(TextDatasetTest, ExpandFilesGlobsExcludesAndSorts) {
  const std::string dir = ::testing::TempDir() + "/text_dataset_test";
  mkdir(dir.c_str(), 0755);
  for (const char* name : {"b.txt", "a.txt", "a.dat"}) std::ofstream(dir + "/" + name) << name;
  tributary::v1::TextData text;
  text.add_files(dir + "/*");
  text.add_files(dir + "/a.txt");
  text.add_exclude("*.dat");
  const auto files = ExpandFiles(text);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (std::vector<std::string>{dir + "/a.txt", dir + "/b.txt"}));
  text.add_files(dir + "/none*");
  EXPECT_TRUE(absl::IsInvalidArgument(ExpandFiles(text).status()));
}

TEST(TextDatasetTest, HoldsOutTheTailForEvaluation) {
  const std::string path = ::testing::TempDir() + "/text_dataset_corpus.txt";
  std::ofstream(path) << std::string(900, 'a') + std::string(100, 'z');
  tributary::v1::JobSpec job;
  job.mutable_model()->mutable_gpt()->set_context(9);
  job.mutable_data()->mutable_text()->add_files(path);
  job.mutable_data()->set_shard_examples(10);
  const auto dataset = LoadDataset(job);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ((*dataset)->example_bytes, 10);
  EXPECT_EQ((*dataset)->train.find('z'), std::string::npos) << "the held-out tail stays out of training";
  EXPECT_EQ((*dataset)->test, SequenceRecords(std::string(100, 'z'), 9));
  EXPECT_EQ((*dataset)->shards.size(), 10u);  // 99 sequences of 10 bytes, 10 per shard
}

}  // namespace
}  // namespace tributary::coordinator
