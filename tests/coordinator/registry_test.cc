#include "coordinator/registry.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TEST(RegistryTest, SessionsFindActiveWorkersOnly) {
  WorkerRegistry registry;
  WorkerRecord& a = registry.Add({"alpha", "cpu", 2, "ip:test"}, "token-a", kT0);
  EXPECT_EQ(a.id, "w1");
  EXPECT_EQ(registry.Add({"beta", "cpu", 1, "ip:test"}, "token-b", kT0).id, "w2");
  EXPECT_EQ(registry.FindActiveBySession("token-a"), &a);
  EXPECT_EQ(registry.FindActiveBySession("nope"), nullptr);
  registry.End(a, WorkerState::kLeft);
  EXPECT_EQ(registry.FindActiveBySession("token-a"), nullptr);
  EXPECT_EQ(registry.Find("w1"), &a);
  EXPECT_EQ(registry.Find("w9"), nullptr);
  EXPECT_EQ(registry.Find("x1"), nullptr);
}

TEST(RegistryTest, SilentWorkersAreMarkedLost) {
  WorkerRegistry registry;
  WorkerRecord& a = registry.Add({"a", "cpu", 1, "ip:test"}, "ta", kT0);
  WorkerRecord& b = registry.Add({"b", "cpu", 1, "ip:test"}, "tb", kT0);
  registry.Touch(b, kT0 + absl::Seconds(8));
  EXPECT_EQ(registry.MarkSilentLost(kT0 + absl::Seconds(10), absl::Seconds(10)).size(), 0u);
  EXPECT_EQ(registry.MarkSilentLost(kT0 + absl::Seconds(11), absl::Seconds(10)),
            std::vector<std::string>{"w1"});
  EXPECT_EQ(a.state, WorkerState::kLost);
  EXPECT_EQ(b.state, WorkerState::kActive);
  EXPECT_STREQ(WorkerStateName(a.state), "lost");
}

TEST(RegistryTest, InvalidRequestsReachTheLimit) {
  WorkerRegistry registry;
  WorkerRecord& a = registry.Add({"a", "cpu", 1, "ip:test"}, "ta", kT0);
  EXPECT_FALSE(registry.RecordInvalid(a, 3));
  EXPECT_FALSE(registry.RecordInvalid(a, 3));
  EXPECT_TRUE(registry.RecordInvalid(a, 3));
  EXPECT_EQ(a.invalid_requests, 3);
}

TEST(RegistryTest, SessionsAreCountedPerIdentityAndEndTogether) {
  WorkerRegistry registry;
  registry.Add({"a1", "cpu", 1, "token:alice"}, "t1", kT0);
  registry.Add({"a2", "cpu", 1, "token:alice"}, "t2", kT0);
  registry.Add({"b", "cpu", 1, "token:bob"}, "t3", kT0);
  EXPECT_EQ(registry.ActiveSessions("token:alice"), 2);
  const std::vector<std::string> ended =
      registry.EndIf([](const WorkerRecord& w) { return w.identity == "token:alice"; }, WorkerState::kBanned);
  EXPECT_EQ(ended, (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(registry.ActiveSessions("token:alice"), 0);
  EXPECT_EQ(registry.ActiveSessions("token:bob"), 1);
  EXPECT_EQ(registry.FindActiveBySession("t1"), nullptr);
  EXPECT_EQ(registry.Find("w1")->state, WorkerState::kBanned);
  EXPECT_NE(registry.FindActiveBySession("t3"), nullptr);
}

TEST(RegistryTest, EndedRecordsAgeOutOfMemoryButStayCounted) {
  WorkerRegistry registry;
  const int joins = static_cast<int>(kMaxEndedRecords) + 10;
  for (int i = 0; i < joins; ++i) {
    WorkerRecord& w = registry.Add({"flood", "cpu", 1, "ip:10.0.0.1"}, absl::StrCat("t", i), kT0);
    registry.End(w, i % 2 == 0 ? WorkerState::kLeft : WorkerState::kLost);
  }
  WorkerRecord& active = registry.Add({"honest", "cpu", 1, "ip:10.0.0.2"}, "honest", kT0);
  EXPECT_EQ(registry.All().size(), kMaxEndedRecords + 1);
  EXPECT_EQ(registry.forgotten().at("left") + registry.forgotten().at("lost"), 10);
  EXPECT_EQ(registry.Find("w1"), nullptr) << "the oldest went first";
  EXPECT_EQ(registry.FindActiveBySession("honest"), &active);

  tributary::v1::RunState state;
  registry.SaveState(state);
  WorkerRegistry restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.forgotten().at("left") + restored.forgotten().at("lost"), 11)
      << "the honest worker's session died with the process; it is one more ended record";
  EXPECT_EQ(restored.All().size(), kMaxEndedRecords);
}

}  // namespace
}  // namespace tributary::coordinator
