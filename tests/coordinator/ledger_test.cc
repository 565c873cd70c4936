#include "coordinator/ledger.h"

#include <map>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

LedgerOptions Options(int shards, int epochs) {
  LedgerOptions options;
  options.num_shards = shards;
  options.epochs = epochs;
  options.lease_timeout = absl::Seconds(10);
  options.seed = 42;
  return options;
}

void ExpectCounts(const ShardLedger& ledger, int64_t done, int64_t leased, int64_t pending) {
  const LedgerCounts c = ledger.counts();
  EXPECT_EQ(c.done, done);
  EXPECT_EQ(c.leased, leased);
  EXPECT_EQ(c.pending, pending);
  EXPECT_EQ(c.total, done + leased + pending);
}

TEST(LedgerTest, EachEpochHoldsEveryShardOnceInShuffledOrder) {
  ShardLedger ledger(Options(5, 2));
  ExpectCounts(ledger, 0, 0, 10);
  std::map<uint32_t, std::multiset<uint32_t>> by_epoch;
  for (const WorkItem& item : ledger.items()) by_epoch[item.epoch].insert(item.shard);
  for (auto& [epoch, shards] : by_epoch) EXPECT_EQ(shards, (std::multiset<uint32_t>{0, 1, 2, 3, 4}));
  // Epoch 0 is handed out before epoch 1.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ledger.LeaseNext("w1", 0, kT0)->epoch, 0u);
  EXPECT_EQ(ledger.LeaseNext("w1", 0, kT0)->epoch, 1u);
}

// A transcript: lease, expire, re-lease to another worker, late submit.
TEST(LedgerTest, ExpiredLeaseReturnsToTheFrontAndIsDoneOnce) {
  ShardLedger ledger(Options(3, 1));
  const Lease a = *ledger.LeaseNext("w1", 0, kT0);
  EXPECT_EQ(a.deadline, kT0 + absl::Seconds(10));
  ExpectCounts(ledger, 0, 1, 2);

  EXPECT_TRUE(ledger.ExpireLeases(kT0 + absl::Seconds(9)).empty());
  EXPECT_EQ(ledger.ExpireLeases(kT0 + absl::Seconds(10)), std::vector<uint64_t>{a.task_id});
  ExpectCounts(ledger, 0, 0, 3);

  const Lease b = *ledger.LeaseNext("w2", 1, kT0 + absl::Seconds(11));
  EXPECT_EQ(b.shard, a.shard) << "a returned shard goes to the front of the queue";
  EXPECT_NE(b.task_id, a.task_id);

  // w1's late result is refused; w2's is accepted once.
  EXPECT_TRUE(absl::IsFailedPrecondition(ledger.CheckLive(a.task_id, "w1", kT0 + absl::Seconds(12)).status()));
  ASSERT_TRUE(*ledger.CheckLive(b.task_id, "w2", kT0 + absl::Seconds(12)));
  ledger.Complete(b.task_id);
  EXPECT_FALSE(*ledger.CheckLive(b.task_id, "w2", kT0 + absl::Seconds(13))) << "a retry is a duplicate";
  ExpectCounts(ledger, 1, 0, 2);
  EXPECT_EQ(ledger.Find(b.task_id)->leases, 2);
  EXPECT_EQ(ledger.Find(b.task_id)->completions, 1);
}

TEST(LedgerTest, RenewPushesDeadlines) {
  ShardLedger ledger(Options(2, 1));
  const Lease a = *ledger.LeaseNext("w1", 0, kT0);
  ledger.Renew("w1", kT0 + absl::Seconds(8));
  EXPECT_TRUE(ledger.ExpireLeases(kT0 + absl::Seconds(12)).empty());
  EXPECT_TRUE(*ledger.CheckLive(a.task_id, "w1", kT0 + absl::Seconds(17)));
  EXPECT_FALSE(ledger.CheckLive(a.task_id, "w1", kT0 + absl::Seconds(18)).ok());
}

TEST(LedgerTest, OnlyTheHolderMayComplete) {
  ShardLedger ledger(Options(2, 1));
  const Lease a = *ledger.LeaseNext("w1", 0, kT0);
  EXPECT_TRUE(absl::IsPermissionDenied(ledger.CheckLive(a.task_id, "w2", kT0).status()));
  EXPECT_TRUE(absl::IsNotFound(ledger.CheckLive(999, "w1", kT0).status()));
  EXPECT_TRUE(ledger.HoldsLease(a.task_id, "w1"));
  EXPECT_FALSE(ledger.HoldsLease(a.task_id, "w2"));
}

TEST(LedgerTest, ReleaseWorkerAndAbandonRequeue) {
  ShardLedger ledger(Options(4, 1));
  const Lease a = *ledger.LeaseNext("w1", 0, kT0);
  const Lease b = *ledger.LeaseNext("w1", 0, kT0);
  const Lease c = *ledger.LeaseNext("w2", 0, kT0);
  EXPECT_EQ(ledger.ReleaseWorker("w1").size(), 2u);
  ExpectCounts(ledger, 0, 1, 3);
  ledger.Abandon(c.task_id);
  ExpectCounts(ledger, 0, 0, 4);
  EXPECT_FALSE(ledger.CheckLive(a.task_id, "w1", kT0).ok());
  EXPECT_FALSE(ledger.CheckLive(b.task_id, "w1", kT0).ok());
}

// A pipelining worker keeps the leases it still works on; the rest of its
// leases go back to the front of the queue, other workers' stay.
TEST(LedgerTest, ReleaseWorkerExceptKeepsTheNamedLeases) {
  ShardLedger ledger(Options(5, 1));
  const Lease a = *ledger.LeaseNext("w1", 0, kT0);
  const Lease b = *ledger.LeaseNext("w1", 0, kT0);
  const Lease c = *ledger.LeaseNext("w1", 0, kT0);
  const Lease other = *ledger.LeaseNext("w2", 0, kT0);
  const uint64_t keep[] = {a.task_id, c.task_id, other.task_id, 999};
  EXPECT_EQ(ledger.ReleaseWorkerExcept("w1", keep), std::vector<uint64_t>{b.task_id});
  ExpectCounts(ledger, 0, 3, 2);
  EXPECT_TRUE(ledger.HoldsLease(a.task_id, "w1"));
  EXPECT_FALSE(ledger.HoldsLease(b.task_id, "w1"));
  EXPECT_TRUE(ledger.HoldsLease(c.task_id, "w1"));
  EXPECT_TRUE(ledger.HoldsLease(other.task_id, "w2")) << "naming another's lease keeps nothing of it";
  EXPECT_EQ(ledger.LeaseNext("w2", 0, kT0)->shard, b.shard) << "a released shard goes to the front";

  EXPECT_EQ(ledger.ReleaseWorkerExcept("w1", {}).size(), 2u) << "keeping nothing releases all";
  ExpectCounts(ledger, 0, 2, 3);
}

TEST(LedgerTest, FinishesWhenAllDoneAndThenHandsOutNothing) {
  ShardLedger ledger(Options(2, 2));
  while (std::optional<Lease> lease = ledger.LeaseNext("w1", 0, kT0)) ledger.Complete(lease->task_id);
  EXPECT_TRUE(ledger.finished());
  ExpectCounts(ledger, 4, 0, 0);
}

// Random schedules of leases, expiries, releases, completions and retries;
// after each step the counts add up and no item is completed twice.
TEST(LedgerTest, RandomSchedulesKeepTheInvariants) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  for (int run = 0; run < 50; ++run) {
    ShardLedger ledger(Options(1 + rng() % 8, 1 + rng() % 3));
    absl::Time now = kT0;
    std::vector<std::pair<uint64_t, std::string>> issued;
    for (int step = 0; step < 2000 && !ledger.finished(); ++step) {
      const std::string worker = "w" + std::to_string(rng() % 3);
      switch (rng() % 5) {
        case 0:
          if (auto lease = ledger.LeaseNext(worker, 0, now)) issued.emplace_back(lease->task_id, worker);
          break;
        case 1:
          now += absl::Seconds(rng() % 6);
          ledger.ExpireLeases(now);
          break;
        case 2:
          if (rng() % 4 == 0) ledger.ReleaseWorker(worker);
          if (rng() % 4 == 0 && !issued.empty()) {
            const uint64_t keep[] = {issued[rng() % issued.size()].first, issued.back().first};
            ledger.ReleaseWorkerExcept(worker, keep);
          }
          break;
        default:
          if (!issued.empty()) {
            const auto& [task, holder] = issued[rng() % issued.size()];
            absl::StatusOr<bool> live = ledger.CheckLive(task, holder, now);
            if (live.ok() && *live) ledger.Complete(task);
          }
      }
      const LedgerCounts c = ledger.counts();
      ASSERT_EQ(c.done + c.leased + c.pending, c.total);
      int64_t done = 0;
      for (const WorkItem& item : ledger.items()) {
        ASSERT_LE(item.completions, 1);
        done += item.state == WorkState::kDone;
        ASSERT_EQ(item.completions, item.state == WorkState::kDone ? 1 : 0);
      }
      ASSERT_EQ(done, c.done);
    }
  }
}

// A ledger saved mid-run and restored goes on as the original would, except
// that leases (whose holders' sessions are gone) are back at the queue's front.
TEST(LedgerTest, RestoreKeepsDoneItemsAndQueueOrderAndRequeuesLeases) {
  ShardLedger ledger(Options(4, 2));
  const std::optional<Lease> done = ledger.LeaseNext("w1", 0, kT0);
  ASSERT_TRUE(ledger.CheckLive(done->task_id, "w1", kT0).value());
  ledger.Complete(done->task_id);
  const std::optional<Lease> leased = ledger.LeaseNext("w2", 1, kT0);

  absl::StatusOr<ShardLedger> restored = ShardLedger::Restore(Options(4, 2), ledger.SaveState());
  ASSERT_TRUE(restored.ok()) << restored.status();
  ExpectCounts(*restored, 1, 0, 7);
  EXPECT_EQ(restored->Find(done->task_id)->state, WorkState::kDone);
  // A retried submit of the applied task is still recognised as one.
  EXPECT_FALSE(restored->CheckLive(done->task_id, "w1", kT0).value());
  // The old lease is void; its shard comes next, then the original order.
  EXPECT_TRUE(absl::IsFailedPrecondition(restored->CheckLive(leased->task_id, "w2", kT0).status()));
  std::vector<std::pair<uint32_t, uint32_t>> original, resumed;
  ledger.ReleaseWorker("w2");
  while (std::optional<Lease> l = ledger.LeaseNext("x", 0, kT0)) original.emplace_back(l->epoch, l->shard);
  while (std::optional<Lease> l = restored->LeaseNext("x", 0, kT0)) {
    resumed.emplace_back(l->epoch, l->shard);
    // Not even ids the dead process may have handed out after the save.
    EXPECT_GT(l->task_id, 1'000'000'000u) << "task ids are never reused";
  }
  EXPECT_EQ(resumed.front(), std::make_pair(leased->epoch, leased->shard));
  EXPECT_EQ(resumed, original);
}

void ExpectLeaseCounts(const LeaseCounts& c, int64_t leased, int64_t reissued, int64_t expired, int64_t released,
                       int64_t revoked) {
  EXPECT_EQ(c.leased, leased);
  EXPECT_EQ(c.reissued, reissued);
  EXPECT_EQ(c.expired, expired);
  EXPECT_EQ(c.released, released);
  EXPECT_EQ(c.revoked, revoked);
}

// Each way a lease goes back to the queue is counted by its cause, and
// handing out a shard leased before is a reissue; the counts survive a
// save and restore (leases and reissues from the items themselves).
TEST(LedgerTest, CountsLeasesReissuesAndRequeuesByCause) {
  ShardLedger ledger(Options(4, 1));
  ledger.LeaseNext("w1", 0, kT0);
  ledger.LeaseNext("w2", 0, kT0 + absl::Seconds(5));
  ledger.LeaseNext("w2", 0, kT0 + absl::Seconds(5));
  ExpectLeaseCounts(ledger.lease_counts(), 3, 0, 0, 0, 0);
  EXPECT_EQ(ledger.ExpireLeases(kT0 + absl::Seconds(10)).size(), 1u);  // w1's.
  EXPECT_EQ(ledger.ReleaseWorkerExcept("w2", {}).size(), 2u);
  ExpectLeaseCounts(ledger.lease_counts(), 3, 0, 1, 2, 0);
  for (int i = 0; i < 3; ++i) ledger.LeaseNext("w3", 0, kT0 + absl::Seconds(11));  // The three requeued.
  ledger.LeaseNext("w3", 0, kT0 + absl::Seconds(11));  // The fourth shard, new.
  ExpectLeaseCounts(ledger.lease_counts(), 7, 3, 1, 2, 0);
  EXPECT_EQ(ledger.RevokeAll().size(), 4u);
  ExpectCounts(ledger, 0, 0, 4);
  ExpectLeaseCounts(ledger.lease_counts(), 7, 3, 1, 2, 4);

  absl::StatusOr<ShardLedger> restored = ShardLedger::Restore(Options(4, 1), ledger.SaveState());
  ASSERT_TRUE(restored.ok()) << restored.status();
  ExpectLeaseCounts(restored->lease_counts(), 7, 3, 1, 2, 4);
}

TEST(LedgerTest, RestoreRejectsAStateOfAnotherBudgetOrInconsistentOne) {
  ShardLedger ledger(Options(3, 1));
  const std::optional<Lease> lease = ledger.LeaseNext("w1", 0, kT0);
  ledger.Complete(lease->task_id);
  const tributary::v1::LedgerState good = ledger.SaveState();
  ASSERT_TRUE(ShardLedger::Restore(Options(3, 1), good).ok());
  EXPECT_FALSE(ShardLedger::Restore(Options(4, 1), good).ok()) << "other shard count";

  tributary::v1::LedgerState twice = good;
  twice.mutable_items(1)->set_shard(twice.items(2).shard());
  EXPECT_THAT(ShardLedger::Restore(Options(3, 1), twice).status().message(), ::testing::HasSubstr("twice"));

  tributary::v1::LedgerState done_twice = good;
  done_twice.mutable_items(0)->set_completions(2);
  EXPECT_FALSE(ShardLedger::Restore(Options(3, 1), done_twice).ok());

  tributary::v1::LedgerState lost_from_queue = good;
  lost_from_queue.mutable_pending()->RemoveLast();
  EXPECT_THAT(ShardLedger::Restore(Options(3, 1), lost_from_queue).status().message(),
              ::testing::HasSubstr("queue holds"));

  tributary::v1::LedgerState done_queued = good;
  done_queued.add_pending(0);  // Item 0 is done.
  EXPECT_FALSE(ShardLedger::Restore(Options(3, 1), done_queued).ok());
}

}  // namespace
}  // namespace tributary::coordinator
