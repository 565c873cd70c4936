// Codecs turn an update vector (a gradient or pseudo-gradient in the flat
// parameter layout) into bytes for the wire and back.
//
// A codec object is stateless and thread-safe. State that outlives one update
// (error feedback) belongs to the worker-side object that calls Encode, not
// to this interface.
#ifndef TRIBUTARY_COMMON_CODEC_CODEC_H_
#define TRIBUTARY_COMMON_CODEC_CODEC_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

class Codec {
 public:
  virtual ~Codec() = default;

  // The name a job and an UpdateHeader use for this codec.
  virtual absl::string_view name() const = 0;

  virtual std::string Encode(absl::Span<const float> update) const = 0;

  // Decodes `payload` into `update`, whose size the receiver knows from the
  // model. Validates everything before writing: a malformed payload, or one
  // that decodes to NaN or Inf, returns INVALID_ARGUMENT and leaves `update`
  // unspecified but never reads or writes out of bounds.
  virtual absl::Status Decode(absl::string_view payload, absl::Span<float> update) const = 0;

  // An upper bound on the size of any valid payload for an n-value update;
  // receivers refuse larger uploads before buffering them.
  virtual size_t MaxEncodedBytes(size_t n) const = 0;
};

// INVALID_ARGUMENT naming the bad field for an unknown codec or bad params.
absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(const tributary::v1::CodecSpec& spec);

// INVALID_ARGUMENT when any value is NaN or Inf; `what` names the payload.
absl::Status CheckFinite(absl::Span<const float> values, absl::string_view what);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_CODEC_H_
