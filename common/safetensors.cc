#include "common/safetensors.h"

#include <cstring>

#include "nlohmann/json.hpp"

namespace tributary {

std::string EncodeSafetensors(const ParamLayout& layout, absl::Span<const float> params,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  for (const TensorSpec& t : layout.tensors()) {
    const int64_t begin = t.offset * static_cast<int64_t>(sizeof(float));
    header[t.name] = {{"dtype", "F32"},
                      {"shape", t.shape},
                      {"data_offsets", {begin, begin + t.size * static_cast<int64_t>(sizeof(float))}}};
  }
  std::string json = header.dump();
  json.append((8 - (8 + json.size()) % 8) % 8, ' ');
  std::string out;
  const uint64_t length = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += json;
  // The layout is the flat vector in order, so the data is one copy (x86
  // and ARM are little-endian, as the format wants).
  out.append(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(float));
  return out;
}

}  // namespace tributary
