#include "coordinator/join_tokens.h"

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

TEST(JoinTokensTest, NamedTokensNameTheirHolder) {
  absl::StatusOr<JoinTokens> tokens = JoinTokens::Parse("# volunteers\nalice s3cret-a\n\nbob\ts3cret-b\n", "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_TRUE(tokens->required());
  EXPECT_EQ(tokens->size(), 2u);
  EXPECT_EQ(tokens->Match("s3cret-a"), "alice");
  EXPECT_EQ(tokens->Match("s3cret-b"), "bob");
  EXPECT_EQ(tokens->Match("s3cret-"), std::nullopt);
  EXPECT_EQ(tokens->Match("s3cret-a "), std::nullopt);
  EXPECT_EQ(tokens->Match(""), std::nullopt);
  EXPECT_TRUE(tokens->HasName("bob"));
  EXPECT_FALSE(tokens->HasName("carol"));
}

TEST(JoinTokensTest, ABareTokenStaysValidAndNamesNobody) {
  absl::StatusOr<JoinTokens> tokens = JoinTokens::Parse("just-one-secret\n", "t");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->Match("just-one-secret"), "");
  EXPECT_TRUE(tokens->HasName(""));
}

TEST(JoinTokensTest, NoFileAdmitsAnyone) { EXPECT_FALSE(JoinTokens().required()); }

TEST(JoinTokensTest, ErrorsNameTheFileAndLine) {
  const struct {
    const char* text;
    const char* expected;
  } cases[] = {
      {"alice a\nbob b c\n", "tokens.txt:2: expected NAME TOKEN"},
      {"alice a\nalice b\n", "tokens.txt:2: name \"alice\" appears twice"},
      {"alice a\nbob a\n", "tokens.txt:2: a token appears twice"},
      {"al/ice a\n", "tokens.txt:1: a name is"},
      {"# nothing\n\n", "tokens.txt: no token"},
      {"alice a\nbare\n", "a bare token must be alone"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<JoinTokens> tokens = JoinTokens::Parse(c.text, "tokens.txt");
    ASSERT_FALSE(tokens.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(tokens.status()));
    EXPECT_NE(tokens.status().message().find(c.expected), std::string::npos) << tokens.status();
    EXPECT_EQ(tokens.status().message().find("a\n"), std::string::npos) << "no secret in the error";
  }
}

}  // namespace
}  // namespace tributary::coordinator
