// A run of float values in one of the wire formats a job can choose
// (CodecSpec.Format): fp32 as is, fp16, or blockwise int8 or int4. The
// dense codecs send the whole update this way; topk its kept values;
// powersgd its factors and the tensors it sends whole.
#ifndef TRIBUTARY_COMMON_CODEC_VALUES_H_
#define TRIBUTARY_COMMON_CODEC_VALUES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/codec/bytes.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

using ValueFormat = tributary::v1::CodecSpec::Format;

struct ValueCoding {
  ValueFormat format = tributary::v1::CodecSpec::FP32;
  int block_size = 256;  // Blockwise formats only.

  // Bytes that `n` values take.
  size_t Bytes(size_t n) const;

  void Append(absl::Span<const float> values, std::string* out) const;

  // Reads values.size() values. INVALID_ARGUMENT, prefixed with `what`, when
  // the payload is short or a value is malformed, NaN or Inf.
  absl::Status Read(PayloadReader& in, absl::Span<float> values, absl::string_view what) const;
  // For the formats HasFusedPath names (fp32, int8): Inspect checks `n`
  // values as Read would, without writing them, and returns their sum of
  // squares (errors as Read's); Accumulate adds weight x value i to acc[i]
  // in one pass over the payload and `acc` (up to `threads` threads).
  // Accumulate's precondition: Inspect passed on the same bytes. Other
  // formats go through a decoded copy (Codec::Inspect, DecodeAccumulate).
  absl::StatusOr<double> Inspect(PayloadReader& in, size_t n, absl::string_view what) const;
  void Accumulate(PayloadReader& in, float weight, absl::Span<float> acc, int threads) const;
};

// "fp32", "fp16", "int8" or "int4".
absl::string_view FormatName(ValueFormat format);

// Whether ValueCoding::Inspect and Accumulate read `format` in one pass.
bool HasFusedPath(ValueFormat format);
// Whether `format` sends one scale per block_size values (INT8, INT4).
bool IsBlockwise(ValueFormat format);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_VALUES_H_
