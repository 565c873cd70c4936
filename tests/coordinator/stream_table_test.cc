#include "coordinator/stream_table.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TEST(StreamTableTest, EachWorkerHoldsAtMostItsShare) {
  StreamTable table(/*max_per_worker=*/2, /*max_uploads=*/10);
  absl::StatusOr<uint64_t> a1 = table.Open("w1", StreamKind::kDownload, kT0);
  ASSERT_TRUE(a1.ok());
  ASSERT_TRUE(table.Open("w1", StreamKind::kUpload, kT0).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(table.Open("w1", StreamKind::kDownload, kT0).status()));
  EXPECT_TRUE(table.Open("w2", StreamKind::kDownload, kT0).ok()) << "another worker";
  table.Close(*a1);
  EXPECT_TRUE(table.Open("w1", StreamKind::kDownload, kT0).ok()) << "a closed stream frees its slot";
  EXPECT_EQ(table.open(), 3);
}

TEST(StreamTableTest, UploadsInFlightAreBoundedForAll) {
  StreamTable table(8, /*max_uploads=*/2);
  ASSERT_TRUE(table.Open("w1", StreamKind::kUpload, kT0).ok());
  absl::StatusOr<uint64_t> up = table.Open("w2", StreamKind::kUpload, kT0);
  ASSERT_TRUE(up.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(table.Open("w3", StreamKind::kUpload, kT0).status()));
  EXPECT_TRUE(table.Open("w3", StreamKind::kDownload, kT0).ok()) << "downloads are not uploads";
  table.Close(*up);
  EXPECT_TRUE(table.Open("w3", StreamKind::kUpload, kT0).ok());
  EXPECT_EQ(table.uploads(), 2);
}

TEST(StreamTableTest, OverdueStreamsAreReportedOnce) {
  StreamTable table(8, 8);
  const uint64_t late = *table.Open("w1", StreamKind::kUpload, kT0 + absl::Seconds(1));
  const uint64_t later = *table.Open("w1", StreamKind::kDownload, kT0 + absl::Seconds(5));
  const uint64_t closed = *table.Open("w2", StreamKind::kDownload, kT0 + absl::Seconds(1));
  table.Close(closed);
  EXPECT_TRUE(table.TakeOverdue(kT0).empty());
  EXPECT_EQ(table.TakeOverdue(kT0 + absl::Seconds(1)), std::vector<uint64_t>{late});
  EXPECT_TRUE(table.TakeOverdue(kT0 + absl::Seconds(2)).empty()) << "reported once";
  EXPECT_EQ(table.TakeOverdue(kT0 + absl::Seconds(9)), std::vector<uint64_t>{later});
  table.Close(late);
  table.Close(later);
  EXPECT_EQ(table.open(), 0);
  EXPECT_EQ(table.uploads(), 0);
}

}  // namespace
}  // namespace tributary::coordinator
