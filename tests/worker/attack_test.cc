#include "worker/attack.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

TEST(ParseAttackTest, NamesAndZ) {
  EXPECT_EQ(ParseAttack("")->kind, Attack::Kind::kNone);
  EXPECT_EQ(ParseAttack("sign_flip")->kind, Attack::Kind::kSignFlip);
  EXPECT_EQ(ParseAttack("scale100")->kind, Attack::Kind::kScale100);
  EXPECT_EQ(ParseAttack("alie")->kind, Attack::Kind::kAlie);
  EXPECT_FLOAT_EQ(ParseAttack("alie")->z, 1.0f);
  EXPECT_FLOAT_EQ(ParseAttack("alie:2.5")->z, 2.5f);
  for (const char* bad : {"alie:", "alie:-1", "alie:0", "alie:nan", "alie:x", "flip"}) {
    EXPECT_EQ(ParseAttack(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AttackerTest, SignFlipAndScale) {
  std::vector<float> u = {1, -2};
  Attacker(*ParseAttack("sign_flip")).Corrupt(absl::MakeSpan(u));
  EXPECT_EQ(u, (std::vector<float>{-1, 2}));
  Attacker(*ParseAttack("scale100")).Corrupt(absl::MakeSpan(u));
  EXPECT_EQ(u, (std::vector<float>{-100, 200}));
}

// ALIE sends the moving mean minus z moving standard deviations, per
// coordinate; the first update (no spread yet) goes out honest.
TEST(AttackerTest, AlieSendsMeanMinusZStddev) {
  Attacker attacker(*ParseAttack("alie:2"));
  std::vector<float> u = {1, 5};
  attacker.Corrupt(absl::MakeSpan(u));
  EXPECT_EQ(u, (std::vector<float>{1, 5}));
  // Second update {3, 5}: coordinate 0 moves by delta 2, so with decay 0.2
  // mean = 1.4, variance = 0.8 * 0.2 * 4 = 0.64, sent 1.4 - 2 * 0.8 = -0.2;
  // coordinate 1 does not move and is sent as is.
  u = {3, 5};
  attacker.Corrupt(absl::MakeSpan(u));
  EXPECT_NEAR(u[0], -0.2f, 1e-6);
  EXPECT_FLOAT_EQ(u[1], 5.0f);
}

// Honest updates scattered around a fixed mean: ALIE's output stays within a
// few standard deviations (it hides among them) but is biased low every time.
TEST(AttackerTest, AlieIsBiasedButInconspicuous) {
  Attacker attacker(*ParseAttack("alie"));
  double sent_sum = 0;
  const int rounds = 200;
  for (int i = 0; i < rounds; ++i) {
    std::vector<float> u = {i % 2 == 0 ? 1.0f : -1.0f};  // Mean 0, stddev 1.
    attacker.Corrupt(absl::MakeSpan(u));
    if (i >= 10) {
      EXPECT_LT(std::abs(u[0]), 3.0f);
      sent_sum += u[0];
    }
  }
  EXPECT_LT(sent_sum / (rounds - 10), -0.5);
}

}  // namespace
}  // namespace tributary::worker
