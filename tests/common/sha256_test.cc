#include "common/sha256.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, IncrementalMatchesOneShot) {
  Sha256Hasher hasher;
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(hasher.Finish(), Sha256("abc"));
  EXPECT_EQ(DigestBytes(Sha256("abc")).size(), 32u);
}

TEST(DigestBytesTest, RoundTripsAndRefusesOtherLengths) {
  const Sha256Digest digest = Sha256("blob");
  EXPECT_EQ(DigestFromBytes(DigestBytes(digest)), digest);
  EXPECT_FALSE(DigestFromBytes("").has_value());
  EXPECT_FALSE(DigestFromBytes(DigestBytes(digest) + "x").has_value());
}

TEST(ParseSha256HexTest, TakesSixtyFourLowercaseHexCharacters) {
  const Sha256Digest digest = Sha256("blob");
  const absl::StatusOr<Sha256Digest> parsed = ParseSha256Hex(Sha256Hex(digest));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, digest);
}

TEST(ParseSha256HexTest, RefusesEveryOtherSpelling) {
  const std::string hex = Sha256Hex(Sha256("blob"));
  std::string upper = hex;
  upper[0] = 'A';
  upper[1] = 'B';
  for (const std::string& bad : {std::string(), hex.substr(1), hex + "0", upper, std::string(64, 'g'),
                                 hex.substr(0, 63) + "%", std::string(64, ' ')}) {
    EXPECT_EQ(ParseSha256Hex(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tributary
