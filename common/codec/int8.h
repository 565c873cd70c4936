// Blockwise absmax int8: each block of `block_size` values travels as one
// fp32 scale (the block's largest magnitude / 127) and the values rounded to
// the nearest multiple of it, in [-127, 127]. All scales come first, then
// all the bytes. The error per value is at most absmax / 254 of its block.
#ifndef TRIBUTARY_COMMON_CODEC_INT8_H_
#define TRIBUTARY_COMMON_CODEC_INT8_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/codec/bytes.h"

namespace tributary {

size_t Int8Bytes(size_t n, int block_size);

void AppendInt8Blocks(absl::Span<const float> values, int block_size, std::string* out);

// INVALID_ARGUMENT (to be prefixed with what is read) on a short payload, a scale that is negative, NaN or Inf,
// the byte -128 (which the encoder never writes), or a value that decodes to Inf.
absl::Status ReadInt8Blocks(PayloadReader& in, int block_size, absl::Span<float> values);

// Checks `n` values as ReadInt8Blocks would, without writing them (their
// NaN or Inf too); returns their sum of squares.
absl::StatusOr<double> InspectInt8Blocks(PayloadReader& in, int block_size, size_t n);

// acc[i] += weight * value i, in one pass over the levels and `acc` (on up
// to `threads` threads): decoding and accumulating fused, no decoded copy.
// Precondition: InspectInt8Blocks passed on the same bytes.
void AccumulateInt8Blocks(PayloadReader& in, int block_size, float weight, absl::Span<float> acc, int threads);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_INT8_H_
