#include "coordinator/registry.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using ::testing::HasSubstr;
using Snapshot = tributary::v1::WorkerSnapshot;

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

// A checkpoint's run state holding one record, w1, in `state`.
tributary::v1::RunState OneRecord(Snapshot::State state) {
  tributary::v1::RunState run;
  run.set_next_worker_number(2);
  Snapshot& saved = *run.add_workers();
  saved.set_id("w1");
  saved.set_state(state);
  return run;
}

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

TEST(RegistryTest, CheckpointsSaveTheStateAsAnEnum) {
  WorkerRegistry registry;
  registry.End(registry.Add({"a", "cpu", 1, "ip:test"}, "ta", kT0), WorkerState::kLeft);
  registry.End(registry.Add({"b", "cpu", 1, "ip:test"}, "tb", kT0), WorkerState::kBanned);
  registry.Add({"c", "cpu", 1, "ip:test"}, "tc", kT0);
  tributary::v1::RunState state;
  registry.SaveState(state);
  ASSERT_EQ(state.workers_size(), 3);
  EXPECT_EQ(state.workers(0).state(), Snapshot::LEFT);
  EXPECT_EQ(state.workers(1).state(), Snapshot::BANNED);
  EXPECT_EQ(state.workers(2).state(), Snapshot::ACTIVE);
  EXPECT_EQ(state.workers(0).state_name(), "") << "the old field is no longer written";

  WorkerRegistry restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.Find("w1")->state, WorkerState::kLeft);
  EXPECT_EQ(restored.Find("w2")->state, WorkerState::kBanned);
  EXPECT_EQ(restored.Find("w3")->state, WorkerState::kLost) << "its session died with the process";
}

TEST(RegistryTest, CheckpointsWrittenBeforeTheEnumStillResume) {
  tributary::v1::RunState state;
  state.set_next_worker_number(5);
  const char* names[] = {"active", "lost", "left", "banned"};
  for (int i = 0; i < 4; ++i) {
    Snapshot& saved = *state.add_workers();
    saved.set_id(absl::StrCat("w", i + 1));
    saved.set_state_name(names[i]);
  }
  WorkerRegistry restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.Find("w1")->state, WorkerState::kLost);
  EXPECT_EQ(restored.Find("w2")->state, WorkerState::kLost);
  EXPECT_EQ(restored.Find("w3")->state, WorkerState::kLeft);
  EXPECT_EQ(restored.Find("w4")->state, WorkerState::kBanned);
}

TEST(RegistryTest, TheEnumWinsOverAnOldName) {
  tributary::v1::RunState state = OneRecord(Snapshot::BANNED);
  state.mutable_workers(0)->set_state_name("left");
  WorkerRegistry restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.Find("w1")->state, WorkerState::kBanned);
}

TEST(RegistryTest, AnUnknownStateIsRefusedNamingTheRecord) {
  tributary::v1::RunState unknown_enum = OneRecord(static_cast<Snapshot::State>(7));
  tributary::v1::RunState unknown_name = OneRecord(Snapshot::STATE_UNSPECIFIED);
  unknown_name.mutable_workers(0)->set_state_name("zombie");
  const tributary::v1::RunState no_state = OneRecord(Snapshot::STATE_UNSPECIFIED);

  WorkerRegistry registry;
  WorkerRecord& kept = registry.Add({"kept", "cpu", 1, "ip:test"}, "tk", kT0);
  const std::pair<const tributary::v1::RunState*, const char*> cases[] = {
      {&unknown_enum, "worker record \"w1\": unknown state 7"},
      {&unknown_name, "worker record \"w1\": unknown state \"zombie\""},
      {&no_state, "worker record \"w1\": no state"},
  };
  for (const auto& [state, message] : cases) {
    const absl::Status s = registry.RestoreState(*state);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(s.message(), HasSubstr(message));
  }
  EXPECT_EQ(registry.FindActiveBySession("tk"), &kept) << "a refused checkpoint leaves the registry as it was";
}

TEST(RegistryTest, ForgottenCountsUnderAnythingButAnEndedStateAreRefused) {
  for (const char* key : {"zombie", "active", ""}) {
    tributary::v1::RunState state = OneRecord(Snapshot::LEFT);
    (*state.mutable_forgotten_workers())[key] = 3;
    WorkerRegistry registry;
    const absl::Status s = registry.RestoreState(state);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("forgotten workers \"", key, "\"")));
  }
  tributary::v1::RunState negative = OneRecord(Snapshot::LEFT);
  (*negative.mutable_forgotten_workers())["lost"] = -1;
  WorkerRegistry registry;
  EXPECT_EQ(registry.RestoreState(negative).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tributary::coordinator
