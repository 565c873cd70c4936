#include "coordinator/registry.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TEST(RegistryTest, SessionsFindActiveWorkersOnly) {
  WorkerRegistry registry;
  WorkerRecord& a = registry.Add("alpha", "cpu", 2, "token-a", kT0);
  EXPECT_EQ(a.id, "w1");
  EXPECT_EQ(registry.Add("beta", "cpu", 1, "token-b", kT0).id, "w2");
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
  WorkerRecord& a = registry.Add("a", "cpu", 1, "ta", kT0);
  WorkerRecord& b = registry.Add("b", "cpu", 1, "tb", kT0);
  registry.Touch(b, kT0 + absl::Seconds(8));
  EXPECT_EQ(registry.MarkSilentLost(kT0 + absl::Seconds(10), absl::Seconds(10)).size(), 0u);
  EXPECT_EQ(registry.MarkSilentLost(kT0 + absl::Seconds(11), absl::Seconds(10)),
            std::vector<std::string>{"w1"});
  EXPECT_EQ(a.state, WorkerState::kLost);
  EXPECT_EQ(b.state, WorkerState::kActive);
  EXPECT_STREQ(WorkerStateName(a.state), "lost");
}

TEST(RegistryTest, RepeatOffendersAreBanned) {
  WorkerRegistry registry;
  WorkerRecord& a = registry.Add("a", "cpu", 1, "ta", kT0);
  EXPECT_FALSE(registry.RecordInvalid(a, 3));
  EXPECT_FALSE(registry.RecordInvalid(a, 3));
  EXPECT_TRUE(registry.RecordInvalid(a, 3));
  EXPECT_EQ(a.state, WorkerState::kBanned);
  EXPECT_EQ(registry.FindActiveBySession("ta"), nullptr);
  EXPECT_EQ(registry.All().size(), 1u);
}

}  // namespace
}  // namespace tributary::coordinator
