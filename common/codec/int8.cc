#include "common/codec/int8.h"

#include <cstdint>

#include "common/codec/blockwise.h"

namespace tributary {

namespace {

constexpr int kMaxLevel = 127;

}  // namespace

size_t Int8Bytes(size_t n, int block_size) { return NumBlocks(n, block_size) * sizeof(float) + n; }

void AppendInt8Blocks(absl::Span<const float> values, int block_size, std::string* out) {
  const size_t n = values.size(), start = out->size();
  out->resize(start + Int8Bytes(n, block_size));
  char* scales = out->data() + start;
  auto* bytes = reinterpret_cast<int8_t*>(scales + NumBlocks(n, block_size) * sizeof(float));
  QuantizeBlocks(values, block_size, kMaxLevel, scales,
                 [bytes](size_t i, int q) { bytes[i] = static_cast<int8_t>(q); });
}

absl::Status ReadInt8Blocks(PayloadReader& in, int block_size, absl::Span<float> values) {
  const size_t n = values.size();
  absl::string_view scales, bytes;
  if (absl::Status s = TakeBlocks(in, n, block_size, n, "int8", &scales, &bytes); !s.ok()) return s;
  auto level = [bytes](size_t i) { return static_cast<int>(static_cast<int8_t>(bytes[i])); };
  return DequantizeBlocks(scales, block_size, kMaxLevel, "int8", level, values);
}

}  // namespace tributary
