#include "common/codec/int8.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace tributary {

namespace {

size_t NumBlocks(size_t n, int block_size) { return (n + block_size - 1) / block_size; }

}  // namespace

size_t Int8Bytes(size_t n, int block_size) { return NumBlocks(n, block_size) * sizeof(float) + n; }

void AppendInt8Blocks(absl::Span<const float> values, int block_size, std::string* out) {
  const size_t n = values.size(), blocks = NumBlocks(n, block_size);
  const size_t start = out->size();
  out->resize(start + Int8Bytes(n, block_size));
  char* scales = out->data() + start;
  auto* bytes = reinterpret_cast<int8_t*>(scales + blocks * sizeof(float));
  for (size_t b = 0; b < blocks; ++b) {
    const size_t begin = b * block_size, end = std::min(n, begin + block_size);
    float absmax = 0;
    bool finite = true;
    for (size_t i = begin; i < end; ++i) {
      absmax = std::max(absmax, std::abs(values[i]));
      finite &= std::isfinite(values[i]);
    }
    // A NaN or Inf makes the block's scale NaN, which the receiver refuses:
    // the encoder never hides a broken update.
    const float scale = finite ? absmax / 127.0f : std::numeric_limits<float>::quiet_NaN();
    const float inverse = finite && absmax > 0 ? 127.0f / absmax : 0.0f;
    std::memcpy(scales + b * sizeof(float), &scale, sizeof(float));
    for (size_t i = begin; i < end; ++i) {
      const float q = finite ? std::nearbyint(values[i] * inverse) : 0.0f;
      bytes[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
    }
  }
}

absl::Status ReadInt8Blocks(PayloadReader& in, int block_size, absl::Span<float> values) {
  const size_t n = values.size(), blocks = NumBlocks(n, block_size);
  absl::string_view scales, bytes;
  if (!in.Take(blocks * sizeof(float), &scales) || !in.Take(n, &bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("payload too short for ", n, " int8 values"));
  }
  for (size_t b = 0; b < blocks; ++b) {
    float scale;
    std::memcpy(&scale, scales.data() + b * sizeof(float), sizeof(float));
    if (!std::isfinite(scale)) {
      return absl::InvalidArgumentError(absl::StrCat("block ", b, " has a NaN or Inf scale"));
    }
    if (scale < 0) return absl::InvalidArgumentError(absl::StrCat("block ", b, " has scale ", scale));
    const size_t begin = b * block_size, end = std::min(n, begin + block_size);
    for (size_t i = begin; i < end; ++i) {
      const auto q = static_cast<int8_t>(bytes[i]);
      if (q == -128) return absl::InvalidArgumentError(absl::StrCat("int8 value ", i, " is -128"));
      values[i] = q * scale;
    }
  }
  return absl::OkStatus();
}

}  // namespace tributary
