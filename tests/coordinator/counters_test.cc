#include "coordinator/counters.h"

#include <cmath>
#include <map>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

tributary::v1::TimeBudget Compute(double seconds) {
  tributary::v1::TimeBudget t;
  t.set_compute_s(seconds);
  return t;
}

Counters Counted() {
  Counters c(/*max_staleness=*/3);
  c.CountApplied(0, 32, 32 * 64);
  c.CountApplied(2, 32, 32 * 64);
  c.CountRejected("stale");
  c.CountRejected("stale");
  c.CountRejected("norm");
  c.CountReceived(100, 400);
  c.CountSent(1000, 4000);
  c.CountJoin();
  c.CountBan();
  c.AddTime(Compute(1.5));
  c.SmoothTrainLoss(2.0, 0.5);
  c.SmoothTrainLoss(1.0, 0.5);
  c.RecordEval(LossStats{30, 6, 10});
  return c;
}

TEST(CountersTest, CountWhatTheRunReports) {
  const Counters c = Counted();
  EXPECT_EQ(c.updates_applied(), 2);
  EXPECT_EQ(c.samples_processed(), 64);
  EXPECT_EQ(c.tokens_processed(), 64 * 64);
  EXPECT_EQ(c.staleness_histogram(), (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(c.rejected_by_reason(), (std::map<std::string, int64_t>{{"norm", 1}, {"stale", 2}}));
  EXPECT_EQ(c.proto().updates_rejected(), 3);
  EXPECT_EQ(c.proto().bytes_received_raw(), 400);
  EXPECT_EQ(c.proto().bytes_sent_raw(), 4000);
  EXPECT_EQ(c.proto().joins(), 1);
  EXPECT_EQ(c.proto().bans(), 1);
  EXPECT_DOUBLE_EQ(c.proto().time().compute_s(), 1.5);
  EXPECT_DOUBLE_EQ(c.train_loss().value_or(-1), 1.5) << "the first report, then halfway to the second";
  ASSERT_TRUE(c.last_eval().has_value());
  EXPECT_DOUBLE_EQ(c.last_eval()->mean_loss(), 3);
}

TEST(CountersTest, NothingKnownBeforeItHappens) {
  const Counters c(0);
  EXPECT_FALSE(c.train_loss().has_value());
  EXPECT_FALSE(c.last_eval().has_value());
  EXPECT_EQ(c.staleness_histogram(), (std::vector<int64_t>{0}));
}

// A checkpoint takes the message as it is and a restore gives it back.
TEST(CountersTest, RestoreGivesBackWhatWasSaved) {
  const Counters c = Counted();
  absl::StatusOr<Counters> restored = Counters::Restore(c.proto(), 3);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(restored->proto(), c.proto()))
      << restored->proto().DebugString() << "\nvs\n" << c.proto().DebugString();
}

TEST(CountersTest, RestoreRefusesCountersThatDoNotFit) {
  const tributary::v1::RunCounters good = Counted().proto();
  EXPECT_TRUE(absl::IsInvalidArgument(Counters::Restore(good, 5).status())) << "another staleness bound";
  tributary::v1::RunCounters bad = good;
  bad.set_samples_processed(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(Counters::Restore(bad, 3).status()));
  bad = good;
  bad.set_staleness_histogram(1, -5);
  EXPECT_TRUE(absl::IsInvalidArgument(Counters::Restore(bad, 3).status()));
  bad = good;
  bad.set_train_loss(NAN);
  EXPECT_TRUE(absl::IsInvalidArgument(Counters::Restore(bad, 3).status()));
  bad = good;
  bad.mutable_time()->set_compute_s(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(Counters::Restore(bad, 3).status()));
}

}  // namespace
}  // namespace tributary::coordinator
