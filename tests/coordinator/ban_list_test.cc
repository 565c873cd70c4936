#include "coordinator/ban_list.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1);

TEST(BanListTest, BansLastUntilTheirEnd) {
  BanList bans;
  bans.Add("token:mallory", "3 NaN values", kT0 + absl::Hours(1));
  std::optional<Ban> ban = bans.Find("token:mallory", kT0);
  ASSERT_TRUE(ban.has_value());
  EXPECT_EQ(ban->reason, "3 NaN values");
  EXPECT_FALSE(bans.Find("token:alice", kT0).has_value());
  EXPECT_FALSE(bans.Find("token:mallory", kT0 + absl::Hours(1)).has_value());
  EXPECT_EQ(bans.Active(kT0).size(), 1u);
  bans.Expire(kT0 + absl::Hours(2));
  EXPECT_TRUE(bans.Active(kT0).empty());
}

TEST(BanListTest, ALaterBanExtendsAndAnOperatorLiftsIt) {
  BanList bans;
  bans.Add("ip:10.0.0.1", "first", kT0 + absl::Hours(2));
  bans.Add("ip:10.0.0.1", "second", kT0 + absl::Hours(1));
  EXPECT_EQ(bans.Find("ip:10.0.0.1", kT0)->until, kT0 + absl::Hours(2)) << "never shortened";
  EXPECT_TRUE(bans.Lift("ip:10.0.0.1"));
  EXPECT_FALSE(bans.Lift("ip:10.0.0.1"));
  EXPECT_FALSE(bans.Find("ip:10.0.0.1", kT0).has_value());
}

TEST(BanListTest, SurvivesACheckpoint) {
  BanList bans;
  bans.Add("token:mallory", "why", kT0 + absl::Hours(1));
  bans.Add("cert:sha256:ab", "why not", kT0 + absl::Hours(3));
  tributary::v1::RunState state;
  bans.SaveState(state);
  BanList restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.Active(kT0).size(), 2u);
  EXPECT_EQ(restored.Find("cert:sha256:ab", kT0)->until, kT0 + absl::Hours(3));

  state.add_bans()->set_identity("token:mallory");
  EXPECT_TRUE(absl::IsInvalidArgument(restored.RestoreState(state))) << "a repeated identity";
  EXPECT_EQ(restored.Active(kT0).size(), 2u) << "left as it was";
}

}  // namespace
}  // namespace tributary::coordinator
