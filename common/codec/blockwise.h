// Blockwise absmax quantisation, the part int8.h and int4.h share: each
// block of `block_size` values (the last one possibly shorter) travels as one
// fp32 scale, the block's largest magnitude / max_level, and each value as
// the nearest multiple of it, an integer level in [-max_level, max_level].
// The error per value is at most absmax / (2 max_level) of its block. The
// formats differ only in how they pack the levels after the scales.
#ifndef TRIBUTARY_COMMON_CODEC_BLOCKWISE_H_
#define TRIBUTARY_COMMON_CODEC_BLOCKWISE_H_

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/codec/bytes.h"

namespace tributary {

inline size_t NumBlocks(size_t n, int block_size) { return (n + block_size - 1) / block_size; }

// Writes each block's scale to `scales` (NumBlocks * 4 bytes) and calls
// put(i, level) once for every value i in order. A block holding a NaN or
// Inf gets a NaN scale, which the receiver refuses (the encoder never hides
// a broken update), and levels 0.
template <typename Put>  // void put(size_t i, int level)
void QuantizeBlocks(absl::Span<const float> values, int block_size, int max_level, char* scales, Put put) {
  const size_t n = values.size(), blocks = NumBlocks(n, block_size);
  const auto levels = static_cast<float>(max_level);
  for (size_t b = 0; b < blocks; ++b) {
    const size_t begin = b * block_size, end = std::min(n, begin + block_size);
    float absmax = 0;
    bool finite = true;
    for (size_t i = begin; i < end; ++i) {
      absmax = std::max(absmax, std::abs(values[i]));
      finite &= std::isfinite(values[i]);
    }
    const float scale = finite ? absmax / levels : std::numeric_limits<float>::quiet_NaN();
    const float inverse = finite && absmax > 0 ? levels / absmax : 0.0f;
    std::memcpy(scales + b * sizeof(float), &scale, sizeof(float));
    for (size_t i = begin; i < end; ++i) {
      const float q = finite ? std::nearbyint(values[i] * inverse) : 0.0f;
      put(i, static_cast<int>(std::clamp(q, -levels, levels)));
    }
  }
}

// Takes the NumBlocks scales of `n` values, then `level_bytes` bytes of
// their levels, from `in`. INVALID_ARGUMENT when the payload is too short
// for them, as `n` `format` values.
absl::Status TakeBlocks(PayloadReader& in, size_t n, int block_size, size_t level_bytes, absl::string_view format,
                        absl::string_view* scales, absl::string_view* levels);

// INVALID_ARGUMENT when block `b`'s scale is negative, NaN or Inf.
absl::Status CheckBlockScale(float scale, size_t b);

// Sets values[i] = level(i) * its block's scale, reading the scales from
// `scales` (NumBlocks * 4 bytes, as QuantizeBlocks wrote them). `level`
// returns an integer in [-max_level - 1, max_level]; -max_level - 1 is never
// written, and INVALID_ARGUMENT names the first such value, as a `format`
// value. INVALID_ARGUMENT too on a bad scale (CheckBlockScale).
template <typename Level>  // int level(size_t i)
absl::Status DequantizeBlocks(absl::string_view scales, int block_size, int max_level, absl::string_view format,
                              Level level, absl::Span<float> values) {
  const size_t n = values.size(), blocks = NumBlocks(n, block_size);
  for (size_t b = 0; b < blocks; ++b) {
    float scale;
    std::memcpy(&scale, scales.data() + b * sizeof(float), sizeof(float));
    if (absl::Status s = CheckBlockScale(scale, b); !s.ok()) return s;
    const size_t begin = b * block_size, end = std::min(n, begin + block_size);
    for (size_t i = begin; i < end; ++i) {
      const int q = level(i);
      if (q < -max_level) return absl::InvalidArgumentError(absl::StrCat(format, " value ", i, " is ", q));
      values[i] = q * scale;
    }
  }
  return absl::OkStatus();
}

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_BLOCKWISE_H_
