// The identity codec: fp32 values, little-endian, as they are.
#ifndef TRIBUTARY_COMMON_CODEC_NONE_H_
#define TRIBUTARY_COMMON_CODEC_NONE_H_

#include "common/codec/codec.h"

namespace tributary {

class NoneCodec : public Codec {
 public:
  static constexpr absl::string_view kName = "none";

  absl::string_view name() const override { return kName; }
  std::string Encode(absl::Span<const float> update) const override;
  absl::Status Decode(absl::string_view payload, absl::Span<float> update) const override;
  size_t MaxEncodedBytes(size_t n) const override { return n * sizeof(float); }
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_NONE_H_
