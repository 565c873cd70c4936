// Codecs turn an update vector (a gradient or pseudo-gradient in the flat
// parameter layout, common/params.h) into bytes for the wire and back.
//
// The two ends are split on purpose. A Codec is immutable and thread-safe:
// the coordinator decodes every worker's uploads with one. An Encoder lives
// on one worker and may keep state from one update to the next (PowerSGD's
// warm-started factors, the error-feedback residual); losing it (a worker
// restart) costs a little accuracy, never correctness.
//
// One file per codec: dense.h (none, fp16, int8, int4), topk.h, powersgd.h;
// the value formats they share are in values.h, error feedback in
// error_feedback.h.
#ifndef TRIBUTARY_COMMON_CODEC_CODEC_H_
#define TRIBUTARY_COMMON_CODEC_CODEC_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/params.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

class Encoder {
 public:
  virtual ~Encoder() = default;

  // The payload for `update`, which has the codec's size().
  virtual std::string Encode(absl::Span<const float> update) = 0;
};

// The encoder of a codec whose Encode keeps nothing between updates.
template <typename StatelessCodec>
class StatelessEncoder : public Encoder {
 public:
  explicit StatelessEncoder(const StatelessCodec& codec) : codec_(codec) {}
  std::string Encode(absl::Span<const float> update) override { return codec_.Encode(update); }

 private:
  const StatelessCodec& codec_;
};

class Codec {
 public:
  virtual ~Codec() = default;

  // The name a job and an UpdateHeader use for this codec.
  virtual absl::string_view name() const = 0;

  // Values per update (the model's parameter count).
  virtual size_t size() const = 0;

  // A worker's encoder, without error feedback (see NewEncoder below).
  virtual std::unique_ptr<Encoder> NewEncoder() const = 0;

  // Decodes `payload` into `update` (size() values). Validates everything
  // before it trusts it: lengths, indices, ranks, NaN and Inf. A bad payload
  // returns INVALID_ARGUMENT saying what is wrong, leaves `update`
  // unspecified, and never reads or writes out of bounds.
  virtual absl::Status Decode(absl::string_view payload, absl::Span<float> update) const = 0;

  // For the coordinator's aggregation, which adds updates to a running sum:
  // Inspect checks `payload` as Decode would and returns the L2 norm of the
  // update it holds, writing nothing; DecodeAccumulate then adds weight x
  // that update to `acc` (size() values) on up to `threads` threads, and
  // cannot fail. The dense codecs do both in one pass over the payload
  // with no decoded copy (fp32 and int8 fused, measured in
  // bench/aggregate_bench); the others decode into a copy kept per thread.
  virtual absl::StatusOr<double> Inspect(absl::string_view payload) const;
  // Precondition: Inspect(payload) returned OK.
  virtual void DecodeAccumulate(absl::string_view payload, float weight, absl::Span<float> acc, int threads) const;

  // An upper bound on the size of any valid payload; receivers refuse larger
  // uploads before buffering them.
  virtual size_t MaxEncodedBytes() const = 0;
};

// The first thing wrong with `spec`: the CodecSpec field and why. Besides
// ranges, a field set for a codec that ignores it is an error, so that a
// job never silently means something else than it says.
struct CodecSpecError {
  const char* field;
  std::string why;
};
std::optional<CodecSpecError> CheckCodecSpec(const tributary::v1::CodecSpec& spec);

// The codec `spec` describes for a model of `layout`. INVALID_ARGUMENT
// naming the field for an unknown codec or parameters out of range (job
// specs are checked with file and line before they get here).
absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(const tributary::v1::CodecSpec& spec,
                                                   const ParamLayout& layout);

// Whether the worker keeps an error-feedback residual for `spec`.
bool ErrorFeedbackOn(const tributary::v1::CodecSpec& spec);

// The worker's encoder for `spec`: codec.NewEncoder(), wrapped in error
// feedback when ErrorFeedbackOn(spec). `codec` must outlive it.
std::unique_ptr<Encoder> NewWorkerEncoder(const Codec& codec, const tributary::v1::CodecSpec& spec);

// INVALID_ARGUMENT when any value is NaN or Inf; `what` names the payload.
absl::Status CheckFinite(absl::Span<const float> values, absl::string_view what);

// The sum of `values`' squares, in double (an update's squared norm).
double SumOfSquares(absl::Span<const float> values);

// acc[i] += weight * values[i] (same sizes), on up to `threads` threads.
void AddScaled(float weight, absl::Span<const float> values, absl::Span<float> acc, int threads);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_CODEC_H_
