// Error feedback (Seide et al. 2014; Karimireddy et al. 2019): the worker
// keeps what the codec lost and adds it to the next update, so that nothing
// is lost for good, only late. After T updates the sum of what was sent
// differs from the sum of the true updates by exactly the current residual,
// which stays bounded.
#ifndef TRIBUTARY_COMMON_CODEC_ERROR_FEEDBACK_H_
#define TRIBUTARY_COMMON_CODEC_ERROR_FEEDBACK_H_

#include <memory>
#include <string>
#include <vector>

#include "common/codec/codec.h"

namespace tributary {

class ErrorFeedbackEncoder : public Encoder {
 public:
  // Encodes with `inner` and decodes with `codec` (which must outlive this)
  // to learn exactly what the receiver will see.
  ErrorFeedbackEncoder(const Codec& codec, std::unique_ptr<Encoder> inner);

  std::string Encode(absl::Span<const float> update) override;

  // What is owed to the next update.
  absl::Span<const float> residual() const { return residual_; }

 private:
  const Codec& codec_;
  const std::unique_ptr<Encoder> inner_;
  std::vector<float> residual_, corrected_, decoded_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_ERROR_FEEDBACK_H_
