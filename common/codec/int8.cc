#include "common/codec/int8.h"

#include <algorithm>
#include <cstdint>

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/codec/blockwise.h"
#include "common/parallel.h"

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

namespace {

// One block's levels in one vectorisable pass: the smallest, the largest
// magnitude and the sum of squares (256 x 127^2 fits an int32 many times).
struct BlockLevels {
  int min = 0;
  int max_abs = 0;
  int64_t sum_squares = 0;
};

BlockLevels ScanLevels(const int8_t* levels, size_t count) {
  int lo = 0, hi = 0;
  int32_t sum_squares = 0;
  for (size_t i = 0; i < count; ++i) {
    const int q = levels[i];
    lo = std::min(lo, q);
    hi = std::max(hi, q);
    sum_squares += q * q;
  }
  return {lo, std::max(-lo, hi), sum_squares};
}

// Checks block `b` (levels [begin, end)): its scale, no level below -127,
// and no value whose decoding overflows. Counts those into `not_finite`.
absl::Status CheckBlock(float scale, size_t b, const int8_t* levels, size_t begin, size_t end,
                        const BlockLevels& scanned, int64_t* not_finite) {
  if (absl::Status s = CheckBlockScale(scale, b); !s.ok()) return s;
  if (scanned.min < -kMaxLevel) {
    for (size_t i = begin; i < end; ++i) {
      if (levels[i] < -kMaxLevel) return absl::InvalidArgumentError(absl::StrCat("int8 value ", i, " is ", levels[i]));
    }
  }
  if (!std::isfinite(scanned.max_abs * scale)) {
    for (size_t i = begin; i < end; ++i) *not_finite += !std::isfinite(levels[i] * scale);
  }
  return absl::OkStatus();
}

absl::Status NotFinite(int64_t count) {
  return absl::InvalidArgumentError(absl::StrCat(count, " NaN or Inf values"));
}

// Takes `n` values' blocks from `in` and calls visit(begin, end, scale,
// levels, scanned) for each block that passed CheckBlock; the first bad
// block ends it, and values that decode to Inf fail it at the end.
template <typename Visit>  // void visit(size_t begin, size_t end, float scale, const int8_t* levels, const BlockLevels&)
absl::Status VisitCheckedBlocks(PayloadReader& in, int block_size, size_t n, Visit visit) {
  absl::string_view scales, bytes;
  if (absl::Status s = TakeBlocks(in, n, block_size, n, "int8", &scales, &bytes); !s.ok()) return s;
  const auto* levels = reinterpret_cast<const int8_t*>(bytes.data());
  int64_t not_finite = 0;
  for (size_t b = 0; b < NumBlocks(n, block_size); ++b) {
    float scale;
    std::memcpy(&scale, scales.data() + b * sizeof(float), sizeof(float));
    const size_t begin = b * block_size, end = std::min(n, begin + block_size);
    const BlockLevels scanned = ScanLevels(levels + begin, end - begin);
    if (absl::Status s = CheckBlock(scale, b, levels, begin, end, scanned, &not_finite); !s.ok()) return s;
    visit(begin, end, scale, levels, scanned);
  }
  return not_finite > 0 ? NotFinite(not_finite) : absl::OkStatus();
}

}  // namespace

absl::Status ReadInt8Blocks(PayloadReader& in, int block_size, absl::Span<float> values) {
  float* out = values.data();
  return VisitCheckedBlocks(in, block_size, values.size(),
                            [out](size_t begin, size_t end, float scale, const int8_t* levels, const BlockLevels&) {
                              for (size_t i = begin; i < end; ++i) out[i] = levels[i] * scale;
                            });
}

absl::StatusOr<double> InspectInt8Blocks(PayloadReader& in, int block_size, size_t n) {
  double sum_squares = 0;
  const absl::Status s = VisitCheckedBlocks(
      in, block_size, n, [&sum_squares](size_t, size_t, float scale, const int8_t*, const BlockLevels& scanned) {
        sum_squares += static_cast<double>(scale) * scale * static_cast<double>(scanned.sum_squares);
      });
  if (!s.ok()) return s;
  return sum_squares;
}

void AccumulateInt8Blocks(PayloadReader& in, int block_size, float weight, absl::Span<float> acc, int threads) {
  const size_t n = acc.size();
  absl::string_view scales, bytes;
  if (!TakeBlocks(in, n, block_size, n, "int8", &scales, &bytes).ok()) return;  // Inspected: cannot happen.
  const auto* levels = reinterpret_cast<const int8_t*>(bytes.data());
  const int64_t blocks = static_cast<int64_t>(NumBlocks(n, block_size));
  ParallelFor(threads, blocks, 2 * block_size, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      float scale;
      std::memcpy(&scale, scales.data() + b * sizeof(float), sizeof(float));
      const float weighted = weight * scale;
      const size_t begin = b * block_size, end = std::min(n, begin + block_size);
      float* out = acc.data();
      for (size_t i = begin; i < end; ++i) out[i] += levels[i] * weighted;
    }
  });
}

}  // namespace tributary
