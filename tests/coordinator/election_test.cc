// LeaderElection against an in-memory store with etcd's semantics (leases
// that expire on a fake clock and take their keys with them, a global
// revision), so terms, renewals, expiry and the fence are driven step by
// step. The real etcd is in tests/e2e/failover_test.cc.
#include "coordinator/election.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "coordinator/failover.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using ::testing::HasSubstr;

class FakeStore : public ElectionStore {
 public:
  explicit FakeStore(FakeClock& clock) : clock_(clock) {}

  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    leases_[next_lease_] = {ttl, clock_.Now() + ttl};
    return next_lease_++;
  }
  absl::StatusOr<absl::Duration> KeepAlive(int64_t lease) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    Expire();
    auto it = leases_.find(lease);
    if (it == leases_.end()) return absl::ZeroDuration();
    it->second.expires = clock_.Now() + it->second.ttl;
    return it->second.ttl;
  }
  absl::Status RevokeLease(int64_t lease) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    Drop(lease);
    return absl::OkStatus();
  }
  absl::StatusOr<StoredKey> CreateIfAbsent(absl::string_view key, absl::string_view value, int64_t lease) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    Expire();
    auto it = keys_.find(std::string(key));
    if (it != keys_.end()) return it->second;
    ++revision_;
    return keys_[std::string(key)] = StoredKey{std::string(value), revision_, revision_, lease};
  }
  absl::StatusOr<std::optional<StoredKey>> Get(absl::string_view key) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    Expire();
    auto it = keys_.find(std::string(key));
    if (it == keys_.end()) return std::optional<StoredKey>();
    return std::optional<StoredKey>(it->second);
  }
  absl::StatusOr<int64_t> PutIfHeld(absl::string_view guard, int64_t guard_revision, absl::string_view key,
                                    absl::string_view value) override {
    if (absl::Status s = Reachable(); !s.ok()) return s;
    Expire();
    auto it = keys_.find(std::string(guard));
    if (it == keys_.end() || it->second.create_revision != guard_revision) {
      return absl::FailedPreconditionError("guard");
    }
    ++revision_;
    StoredKey& stored = keys_[std::string(key)];
    stored.value = std::string(value);
    stored.mod_revision = revision_;
    if (stored.create_revision == 0) stored.create_revision = revision_;
    return revision_;
  }

  void set_reachable(bool reachable) { reachable_ = reachable; }
  std::string value(const std::string& key) { return keys_.count(key) ? keys_[key].value : ""; }

 private:
  struct LeaseState {
    absl::Duration ttl;
    absl::Time expires;
  };
  absl::Status Reachable() const {
    return reachable_ ? absl::OkStatus() : absl::UnavailableError("partitioned");
  }
  void Expire() {
    for (auto it = leases_.begin(); it != leases_.end();) {
      if (clock_.Now() >= it->second.expires) {
        const int64_t lease = (it++)->first;
        Drop(lease);
      } else {
        ++it;
      }
    }
  }
  void Drop(int64_t lease) {
    leases_.erase(lease);
    for (auto it = keys_.begin(); it != keys_.end();) {
      it = it->second.lease == lease ? keys_.erase(it) : std::next(it);
    }
  }

  FakeClock& clock_;
  std::map<int64_t, LeaseState> leases_;
  std::map<std::string, StoredKey> keys_;
  int64_t next_lease_ = 100;
  int64_t revision_ = 1;
  bool reachable_ = true;
};

constexpr absl::Duration kTtl = absl::Seconds(5);

ElectionOptions Options(const std::string& candidate) {
  ElectionOptions options;
  options.key = "/job/leader";
  options.candidate = candidate;
  options.ttl = kTtl;
  return options;
}

// Steps both candidates every StepInterval for `d`.
void StepBoth(FakeClock& clock, absl::Duration d, LeaderElection& a, LeaderElection& b) {
  for (absl::Duration t; t < d; t += kTtl / 10) {
    a.Step();
    b.Step();
    clock.Advance(kTtl / 10);
  }
}

TEST(ElectionTest, OneLeadsTheOtherStandsByAndKnowsWhere) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  LeaderElection b(store, clock, Options("b:1"));
  EXPECT_EQ(a.Step(), Role::kLeader);
  EXPECT_EQ(b.Step(), Role::kStandby);
  EXPECT_EQ(b.leader(), "a:1");
  EXPECT_GT(a.term(), 0);
  EXPECT_EQ(b.term(), 0);
  // Renewals keep it leading long past one TTL.
  StepBoth(clock, 10 * kTtl, a, b);
  EXPECT_TRUE(a.Leading());
  EXPECT_EQ(b.role(), Role::kStandby);
}

TEST(ElectionTest, AStandbyTakesOverWhenTheLeaderStopsRenewing) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  LeaderElection b(store, clock, Options("b:1"));
  ASSERT_EQ(a.Step(), Role::kLeader);
  const int64_t first_term = a.term();
  // `a` freezes (no more steps): it stops counting itself leader before
  // its lease can expire, and `b` is elected only after that.
  absl::Duration waited;
  while (b.Step() != Role::kLeader) {
    clock.Advance(kTtl / 10);
    waited += kTtl / 10;
    ASSERT_LT(waited, 2 * kTtl);
  }
  EXPECT_GE(waited, kTtl);
  EXPECT_FALSE(a.Leading());
  EXPECT_EQ(a.role(), Role::kLost);
  EXPECT_GT(b.term(), first_term);
  // The woken leader's fenced write is refused.
  EXPECT_TRUE(absl::IsFailedPrecondition(a.Fence("/job/version", "late").status()));
  EXPECT_EQ(store.value("/job/version"), "");
  EXPECT_TRUE(b.Fence("/job/version", "v").ok());
  EXPECT_EQ(store.value("/job/version"), "v");
}

TEST(ElectionTest, TheStoreRefusesAWriteOfAnOldTermEvenWhenTheClockSaysLeading) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  ASSERT_EQ(a.Step(), Role::kLeader);
  // The lease vanishes behind a's back (an operator revoked it).
  LeaderElection b(store, clock, Options("b:1"));
  ASSERT_TRUE(store.RevokeLease(100).ok());
  ASSERT_EQ(b.Step(), Role::kLeader);
  ASSERT_TRUE(a.Leading());  // Its own clock cannot know.
  EXPECT_TRUE(absl::IsFailedPrecondition(a.Fence("/job/version", "x").status()));
  EXPECT_EQ(a.role(), Role::kLost);
  EXPECT_FALSE(a.Leading());
}

TEST(ElectionTest, AnUnreachableStoreEndsTheTermWhenTheLeaseRunsOut) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  ASSERT_EQ(a.Step(), Role::kLeader);
  store.set_reachable(false);
  absl::Duration waited;
  while (a.Step() == Role::kLeader) {
    clock.Advance(kTtl / 10);
    waited += kTtl / 10;
    ASSERT_LT(waited, 2 * kTtl);
  }
  // Given up before the store could have expired it (the margin).
  EXPECT_LT(waited, kTtl);
  EXPECT_FALSE(a.Leading());
  // While unreachable, a write is UNAVAILABLE, not a lost term.
  LeaderElection c(store, clock, Options("c:1"));
  EXPECT_EQ(c.Step(), Role::kStandby);
  EXPECT_EQ(c.leader(), "");
}

TEST(ElectionTest, FenceWhileUnreachableIsUnavailableAndKeepsTheTerm) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  ASSERT_EQ(a.Step(), Role::kLeader);
  store.set_reachable(false);
  EXPECT_TRUE(absl::IsUnavailable(a.Fence("/job/version", "x").status()));
  EXPECT_TRUE(a.Leading());
  store.set_reachable(true);
  EXPECT_TRUE(a.Fence("/job/version", "x").ok());
}

TEST(ElectionTest, ResignLetsAStandbyInAtOnce) {
  FakeClock clock;
  FakeStore store(clock);
  LeaderElection a(store, clock, Options("a:1"));
  LeaderElection b(store, clock, Options("b:1"));
  ASSERT_EQ(a.Step(), Role::kLeader);
  ASSERT_EQ(b.Step(), Role::kStandby);
  a.Resign();
  EXPECT_EQ(b.Step(), Role::kLeader);
  EXPECT_EQ(b.leader(), "b:1");
}

TEST(FailoverRecordTest, CheckpointRecordRoundTrips) {
  CheckpointRecord record{42, 7, std::string(64, 'a'), "127.0.0.1_7070/checkpoint-000000000042.tckpt"};
  absl::StatusOr<CheckpointRecord> parsed = ParseCheckpointRecord(FormatCheckpointRecord(record));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->version, 42u);
  EXPECT_EQ(parsed->term, 7);
  EXPECT_EQ(parsed->sha256_hex, record.sha256_hex);
  EXPECT_EQ(parsed->path, record.path);
}

TEST(FailoverRecordTest, BadRecordsAreRefusedWithWhy) {
  const std::string sha(64, 'b');
  for (const std::string& bad : {std::string(""), absl::StrCat("version=1 term=1 sha256=", sha),
                                 absl::StrCat("version=x term=1 sha256=", sha, " path=a"),
                                 absl::StrCat("version=1 term=0 sha256=", sha, " path=a"),
                                 absl::StrCat("version=1 term=1 sha256=zz path=a"),
                                 absl::StrCat("version=1 term=1 sha256=", sha, " path=/etc/passwd"),
                                 absl::StrCat("version=1 term=1 sha256=", sha, " path=../x"),
                                 absl::StrCat("version=1 version=2 term=1 sha256=", sha, " path=a"),
                                 std::string("garbage")}) {
    absl::StatusOr<CheckpointRecord> parsed = ParseCheckpointRecord(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status())) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("checkpoint record")) << bad;
  }
}

TEST(FailoverRecordTest, VersionRecordRoundTripsAndNodeDirsAreFileNames) {
  absl::StatusOr<VersionRecord> parsed = ParseVersionRecord(FormatVersionRecord({123, 9}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->version, 123u);
  EXPECT_EQ(parsed->term, 9);
  EXPECT_FALSE(ParseVersionRecord("version=1").ok());
  EXPECT_EQ(NodeDirName("[::1]:7070"), "___1__7070");
  EXPECT_EQ(NodeDirName("coord-a.example:7070"), "coord-a.example_7070");
}

}  // namespace
}  // namespace tributary::coordinator
