#include "common/codec/error_feedback.h"

#include <algorithm>

#include "common/params.h"

namespace tributary {

ErrorFeedbackEncoder::ErrorFeedbackEncoder(const Codec& codec, std::unique_ptr<Encoder> inner)
    : codec_(codec), inner_(std::move(inner)), residual_(codec.size(), 0.0f) {}

std::string ErrorFeedbackEncoder::Encode(absl::Span<const float> update) {
  const int64_t n = static_cast<int64_t>(residual_.size());
  corrected_.resize(n);
  decoded_.resize(n);
  VectorMap(corrected_.data(), n) = ConstVectorMap(update.data(), n) + ConstVectorMap(residual_.data(), n);
  std::string payload = inner_->Encode(corrected_);
  if (codec_.Decode(payload, absl::MakeSpan(decoded_)).ok()) {
    VectorMap(residual_.data(), n) = ConstVectorMap(corrected_.data(), n) - ConstVectorMap(decoded_.data(), n);
  } else {
    // A NaN or Inf update: the coordinator will refuse it, and carrying it
    // over would poison every later one.
    std::fill(residual_.begin(), residual_.end(), 0.0f);
  }
  return payload;
}

}  // namespace tributary
