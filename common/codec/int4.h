// Blockwise absmax int4 (blockwise.h): each block of `block_size` values
// travels as one fp32 scale (the block's largest magnitude / 7) and the
// values rounded to the nearest multiple of it, in [-7, 7], as
// two's-complement nibbles, two per byte, low nibble first. All scales come
// first, then all the nibbles; an odd count leaves the last byte's high
// nibble 0. The error per value is at most absmax / 14 of its block.
#ifndef TRIBUTARY_COMMON_CODEC_INT4_H_
#define TRIBUTARY_COMMON_CODEC_INT4_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/codec/bytes.h"

namespace tributary {

size_t Int4Bytes(size_t n, int block_size);

void AppendInt4Blocks(absl::Span<const float> values, int block_size, std::string* out);

// INVALID_ARGUMENT (to be prefixed with what is read) on a short payload, a
// scale that is negative, NaN or Inf, the nibble -8 (which the encoder never
// writes), or, for an odd count, a last high nibble that is not 0.
absl::Status ReadInt4Blocks(PayloadReader& in, int block_size, absl::Span<float> values);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_INT4_H_
