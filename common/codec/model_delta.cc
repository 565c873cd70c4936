#include "common/codec/model_delta.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/codec/codec.h"
#include "common/codec/int8.h"
#include "common/params.h"

namespace tributary {

std::string EncodeModelDelta(absl::Span<const float> to, absl::Span<const float> from) {
  const int64_t n = static_cast<int64_t>(to.size());
  std::vector<float> delta(n);
  VectorMap(delta.data(), n) = ConstVectorMap(to.data(), n) - ConstVectorMap(from.data(), n);
  std::string payload;
  AppendInt8Blocks(delta, kModelDeltaBlockSize, &payload);
  return payload;
}

size_t ModelDeltaBytes(size_t n) { return Int8Bytes(n, kModelDeltaBlockSize); }

absl::Status ApplyModelDelta(absl::string_view payload, absl::Span<const float> from, absl::Span<float> to) {
  const int64_t n = static_cast<int64_t>(from.size());
  if (to.size() != from.size() || payload.size() != ModelDeltaBytes(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model delta: ", payload.size(), " bytes, want ", ModelDeltaBytes(n)));
  }
  PayloadReader in(payload);
  if (absl::Status s = ReadInt8Blocks(in, kModelDeltaBlockSize, to); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model delta: ", s.message()));
  }
  VectorMap(to.data(), n) += ConstVectorMap(from.data(), n);
  return CheckFinite(to, "model delta");
}

}  // namespace tributary
