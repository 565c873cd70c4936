#include "common/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/data/gzip.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

std::string IdxBytes(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return out + data;
}

std::string GzipBytes(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = data.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(IdxTest, ParsesDimsAndData) {
  const auto array = ParseIdx(IdxBytes({2, 3}, "abcdef"), "t");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dims, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(array->data, "abcdef");
}

TEST(IdxTest, RejectsBadMagicTypeAndSize) {
  EXPECT_FALSE(ParseIdx("\x01\x00\x08\x01", "t").ok());
  std::string float_type = IdxBytes({1}, "abcd");
  float_type[2] = 0x0d;
  EXPECT_FALSE(ParseIdx(float_type, "t").ok());
  const auto short_data = ParseIdx(IdxBytes({2, 3}, "abc"), "file.idx");
  ASSERT_FALSE(short_data.ok());
  EXPECT_NE(short_data.status().message().find("file.idx"), absl::string_view::npos);
  EXPECT_FALSE(ParseIdx(IdxBytes({2, 3}, "abc").substr(0, 6), "t").ok());
}

TEST(GzipTest, RoundTripAndLimits) {
  const std::string data(100000, 'x');
  const std::string compressed = GzipBytes(data);
  ASSERT_TRUE(IsGzip(compressed));
  const auto inflated = Gunzip(compressed, data.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, data);
  EXPECT_TRUE(absl::IsResourceExhausted(Gunzip(compressed, 1000).status()));
  EXPECT_TRUE(absl::IsDataLoss(Gunzip(compressed.substr(0, compressed.size() / 2), 1 << 20).status()));
}

TEST(IdxTest, ReadsGzippedFileAndNamesMissingOnes) {
  const std::string path = ::testing::TempDir() + "/idx_test.idx.gz";
  std::ofstream(path, std::ios::binary) << GzipBytes(IdxBytes({4}, "wxyz"));
  const auto array = ReadIdxFile(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->data, "wxyz");
  std::remove(path.c_str());
  const auto missing = ReadIdxFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path), absl::string_view::npos);
}

}  // namespace
}  // namespace tributary
