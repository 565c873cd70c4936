#include "common/codec/fp16.h"

#include <cstring>

namespace tributary {

namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float Float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace

// After F. Giesen's float_to_half_fast3_rtne: magnitudes below 2^-14 are
// rounded by one float addition that lines the half's subnormal grid up
// with the float's mantissa; normal ones by adding half an ulp (plus the
// low bit, for ties to even) before truncating 13 mantissa bits.
uint16_t FloatToHalf(float value) {
  constexpr uint32_t kInf = 0x7f800000;
  constexpr uint32_t kRoundsToHalfInf = 0x477ff000;  // 65520: the first float RTNE sends to Inf.
  constexpr uint32_t kHalfNormalMin = 0x38800000;    // 2^-14.
  constexpr uint32_t kDenormMagic = ((127 - 15) + (23 - 10) + 1) << 23;
  uint32_t f = Bits(value);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint32_t half;
  if (f >= kRoundsToHalfInf) {
    half = f > kInf ? 0x7e00 : f == kInf ? 0x7c00 : 0x7bff;
  } else if (f < kHalfNormalMin) {
    half = Bits(Float(f) + Float(kDenormMagic)) - kDenormMagic;
  } else {
    const uint32_t mantissa_odd = (f >> 13) & 1;
    f += (static_cast<uint32_t>(15 - 127) << 23) + 0xfff + mantissa_odd;
    half = f >> 13;
  }
  return static_cast<uint16_t>(half | (sign >> 16));
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in a float.
    const float magnitude = static_cast<float>(mantissa) * Float(0x33800000);
    return Float(Bits(magnitude) | sign);
  }
  if (exponent == 0x1f) return Float(sign | 0x7f800000 | (mantissa << 13));
  return Float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

void FloatsToHalves(absl::Span<const float> values, char* halves) {
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t half = FloatToHalf(values[i]);
    std::memcpy(halves + i * sizeof(half), &half, sizeof(half));
  }
}

void HalvesToFloats(const char* halves, absl::Span<float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t half;
    std::memcpy(&half, halves + i * sizeof(half), sizeof(half));
    values[i] = HalfToFloat(half);
  }
}

}  // namespace tributary
