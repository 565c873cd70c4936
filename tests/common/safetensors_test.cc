#include "common/safetensors.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tributary {
namespace {

using nlohmann::json;

TEST(SafetensorsTest, HeaderDescribesEachTensorAndDataIsTheFlatVector) {
  ParamLayout layout;
  layout.Add("a.weight", {2, 3});
  layout.Add("b.bias", {5});
  std::vector<float> params(11);
  for (size_t i = 0; i < params.size(); ++i) params[i] = 0.25f * i - 1;
  const std::string file = EncodeSafetensors(layout, params, {{"format", "pt"}});

  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);  // Little-endian, as this host.
  ASSERT_EQ(file.size(), 8 + n + 11 * 4);
  EXPECT_EQ((8 + n) % 8, 0u);
  const json header = json::parse(file.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(header["a.weight"], (json{{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}));
  EXPECT_EQ(header["b.bias"], (json{{"dtype", "F32"}, {"shape", {5}}, {"data_offsets", {24, 44}}}));
  std::vector<float> data(11);
  std::memcpy(data.data(), file.data() + 8 + n, 44);
  EXPECT_EQ(data, params);
}

}  // namespace
}  // namespace tributary
