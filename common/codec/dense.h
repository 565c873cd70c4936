// The dense codecs: every value of the update, in one ValueCoding.
//   none  fp32, exact (4 bytes a value)
//   fp16  IEEE half, relative error <= 2^-11 in the half's normal range
//   int8  blockwise absmax, error <= absmax / 254 per block (about 1 byte)
//   int4  blockwise absmax, error <= absmax / 14 per block (about half a byte)
#ifndef TRIBUTARY_COMMON_CODEC_DENSE_H_
#define TRIBUTARY_COMMON_CODEC_DENSE_H_

#include <string>

#include "common/codec/codec.h"
#include "common/codec/values.h"

namespace tributary {

class DenseCodec : public Codec {
 public:
  DenseCodec(ValueCoding coding, size_t size) : coding_(coding), size_(size) {}

  absl::string_view name() const override;
  size_t size() const override { return size_; }
  std::unique_ptr<Encoder> NewEncoder() const override;
  absl::Status Decode(absl::string_view payload, absl::Span<float> update) const override;
  absl::StatusOr<double> Inspect(absl::string_view payload) const override;
  void DecodeAccumulate(absl::string_view payload, float weight, absl::Span<float> acc, int threads) const override;
  size_t MaxEncodedBytes() const override { return coding_.Bytes(size_); }

  std::string Encode(absl::Span<const float> update) const;

 private:
  const ValueCoding coding_;
  const size_t size_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_DENSE_H_
