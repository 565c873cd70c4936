#include "common/codec/codec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/codec/none.h"

namespace tributary {

absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(const tributary::v1::CodecSpec& spec) {
  if (spec.name() == NoneCodec::kName) return std::make_unique<NoneCodec>();
  return absl::InvalidArgumentError(
      absl::StrCat("codec.name: unknown codec \"", spec.name(), "\" (known: none)"));
}

absl::Status CheckFinite(absl::Span<const float> values, absl::string_view what) {
  int64_t bad = 0;
  for (float v : values) bad += !std::isfinite(v);
  if (bad == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", bad, " NaN or Inf values"));
}

}  // namespace tributary
