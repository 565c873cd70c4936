// An update on its way into the aggregator, as whatever carries it: the
// payload a worker uploaded with its codec (the service), or the decoded
// values (tests, tools). The aggregator reads it where it goes, without a
// decoded copy where the codec allows (Codec::DecodeAccumulate): the first
// update of a buffer is decoded into the buffer itself, later ones of a
// MEAN buffer are decoded and added to it in one pass.
#ifndef TRIBUTARY_COORDINATOR_UPDATE_SOURCE_H_
#define TRIBUTARY_COORDINATOR_UPDATE_SOURCE_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/codec/codec.h"

namespace tributary::coordinator {

class UpdateSource {
 public:
  virtual ~UpdateSource() = default;
  // Checks the update (size, encoding, NaN and Inf) and returns its L2
  // norm; INVALID_ARGUMENT saying what is wrong.
  virtual absl::StatusOr<double> Inspect() const = 0;
  // Precondition for both: Inspect() returned OK. `out` and `acc` have the
  // model's size.
  virtual void DecodeTo(absl::Span<float> out) const = 0;
  virtual void AccumulateTo(float weight, absl::Span<float> acc, int threads) const = 0;
};

// A payload as uploaded, read by the job's codec. Borrows both.
class EncodedUpdate final : public UpdateSource {
 public:
  EncodedUpdate(const Codec& codec, absl::string_view payload) : codec_(codec), payload_(payload) {}
  absl::StatusOr<double> Inspect() const override { return codec_.Inspect(payload_); }
  void DecodeTo(absl::Span<float> out) const override { (void)codec_.Decode(payload_, out); }
  void AccumulateTo(float weight, absl::Span<float> acc, int threads) const override {
    codec_.DecodeAccumulate(payload_, weight, acc, threads);
  }

 private:
  const Codec& codec_;
  const absl::string_view payload_;
};

// Values already decoded, of a model of `size` parameters. Borrows them.
class DecodedUpdate final : public UpdateSource {
 public:
  DecodedUpdate(absl::Span<const float> values, size_t size) : values_(values), size_(size) {}
  absl::StatusOr<double> Inspect() const override;
  void DecodeTo(absl::Span<float> out) const override;
  void AccumulateTo(float weight, absl::Span<float> acc, int threads) const override;

 private:
  const absl::Span<const float> values_;
  const size_t size_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_UPDATE_SOURCE_H_
