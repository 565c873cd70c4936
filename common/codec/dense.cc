#include "common/codec/dense.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tributary {

absl::string_view DenseCodec::name() const {
  return coding_.format == tributary::v1::CodecSpec::FP32 ? "none" : FormatName(coding_.format);
}

std::unique_ptr<Encoder> DenseCodec::NewEncoder() const {
  return std::make_unique<StatelessEncoder<DenseCodec>>(*this);
}

std::string DenseCodec::Encode(absl::Span<const float> update) const {
  std::string payload;
  payload.reserve(MaxEncodedBytes());
  coding_.Append(update, &payload);
  return payload;
}

absl::Status DenseCodec::Decode(absl::string_view payload, absl::Span<float> update) const {
  if (payload.size() != MaxEncodedBytes() || update.size() != size_) {
    return absl::InvalidArgumentError(absl::StrCat("codec ", name(), ": payload has ", payload.size(),
                                                   " bytes, want ", MaxEncodedBytes()));
  }
  PayloadReader in(payload);
  return coding_.Read(in, update, absl::StrCat("codec ", name()));
}

absl::StatusOr<double> DenseCodec::Inspect(absl::string_view payload) const {
  if (!HasFusedPath(coding_.format)) return Codec::Inspect(payload);
  if (payload.size() != MaxEncodedBytes()) {
    return absl::InvalidArgumentError(absl::StrCat("codec ", name(), ": payload has ", payload.size(),
                                                   " bytes, want ", MaxEncodedBytes()));
  }
  PayloadReader in(payload);
  absl::StatusOr<double> sum_squares = coding_.Inspect(in, size_, absl::StrCat("codec ", name()));
  if (!sum_squares.ok()) return sum_squares.status();
  return std::sqrt(*sum_squares);
}

void DenseCodec::DecodeAccumulate(absl::string_view payload, float weight, absl::Span<float> acc,
                                  int threads) const {
  if (!HasFusedPath(coding_.format)) {
    Codec::DecodeAccumulate(payload, weight, acc, threads);
    return;
  }
  PayloadReader in(payload);
  coding_.Accumulate(in, weight, acc, threads);
}

}  // namespace tributary
