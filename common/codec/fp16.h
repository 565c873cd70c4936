// IEEE 754 half precision (binary16) conversions, in portable integer code
// (no F16C needed). Used by the fp16 codec and wherever a Format is FP16.
#ifndef TRIBUTARY_COMMON_CODEC_FP16_H_
#define TRIBUTARY_COMMON_CODEC_FP16_H_

#include <cstdint>

#include "absl/types/span.h"

namespace tributary {

// Rounds to the nearest half, ties to even. Finite values beyond the half
// range saturate to +-65504 instead of becoming Inf; NaN and Inf stay what
// they are (so the receiver can refuse them).
uint16_t FloatToHalf(float value);

// Exact: every half is a float.
float HalfToFloat(uint16_t half);

// Whether `half` is Inf or NaN (all exponent bits set).
inline bool HalfIsFinite(uint16_t half) { return (half & 0x7c00) != 0x7c00; }

// Halves in little-endian byte order, 2 bytes each, at any alignment.
void FloatsToHalves(absl::Span<const float> values, char* halves);
void HalvesToFloats(const char* halves, absl::Span<float> values);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_FP16_H_
