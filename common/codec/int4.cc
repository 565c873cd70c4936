#include "common/codec/int4.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/codec/blockwise.h"

namespace tributary {

namespace {

constexpr int kMaxLevel = 7;

size_t PackedBytes(size_t n) { return (n + 1) / 2; }

int Shift(size_t i) { return i % 2 == 0 ? 0 : 4; }

}  // namespace

size_t Int4Bytes(size_t n, int block_size) { return NumBlocks(n, block_size) * sizeof(float) + PackedBytes(n); }

void AppendInt4Blocks(absl::Span<const float> values, int block_size, std::string* out) {
  const size_t n = values.size(), start = out->size();
  out->resize(start + Int4Bytes(n, block_size));  // Zero-filled: each nibble ORs into its byte.
  char* scales = out->data() + start;
  auto* packed = reinterpret_cast<uint8_t*>(scales + NumBlocks(n, block_size) * sizeof(float));
  QuantizeBlocks(values, block_size, kMaxLevel, scales,
                 [packed](size_t i, int q) { packed[i / 2] |= (q & 0xf) << Shift(i); });
}

absl::Status ReadInt4Blocks(PayloadReader& in, int block_size, absl::Span<float> values) {
  const size_t n = values.size();
  absl::string_view scales, packed;
  if (absl::Status s = TakeBlocks(in, n, block_size, PackedBytes(n), "int4", &scales, &packed); !s.ok()) return s;
  if (n % 2 == 1 && (static_cast<uint8_t>(packed.back()) >> 4) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("int4 padding after value ", n - 1, " is not 0"));
  }
  auto level = [packed](size_t i) {
    const int nibble = (static_cast<uint8_t>(packed[i / 2]) >> Shift(i)) & 0xf;
    return (nibble ^ 8) - 8;  // Sign-extends without a branch random signs would mispredict.
  };
  return DequantizeBlocks(scales, block_size, kMaxLevel, "int4", level, values);
}

}  // namespace tributary
