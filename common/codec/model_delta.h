// Model deltas: the coordinator may send a worker the difference between the
// model a task needs and one the worker downloaded whole earlier, in
// blockwise int8 (int8.h), instead of the whole fp32 model: about 4x fewer
// bytes. The worker adds it to its exact copy, so quantization error never
// accumulates from one delta to the next: each is taken from an exact base.
#ifndef TRIBUTARY_COMMON_CODEC_MODEL_DELTA_H_
#define TRIBUTARY_COMMON_CODEC_MODEL_DELTA_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tributary {

inline constexpr int kModelDeltaBlockSize = 256;

// The payload for `to - from` (equal sizes).
std::string EncodeModelDelta(absl::Span<const float> to, absl::Span<const float> from);

// The largest payload for a model of `n` values.
size_t ModelDeltaBytes(size_t n);

// Writes `from + delta` into `to` (from.size() values). INVALID_ARGUMENT on
// a payload of the wrong size, a bad scale, or a non-finite result.
absl::Status ApplyModelDelta(absl::string_view payload, absl::Span<const float> from, absl::Span<float> to);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_MODEL_DELTA_H_
