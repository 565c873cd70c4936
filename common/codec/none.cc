#include "common/codec/none.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace tributary {

// The build targets little-endian machines only (x86-64, aarch64), so the
// in-memory floats are already the wire form.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire format is little-endian");

std::string NoneCodec::Encode(absl::Span<const float> update) const {
  return std::string(reinterpret_cast<const char*>(update.data()), update.size() * sizeof(float));
}

absl::Status NoneCodec::Decode(absl::string_view payload, absl::Span<float> update) const {
  if (payload.size() != update.size() * sizeof(float)) {
    return absl::InvalidArgumentError(absl::StrCat("codec none: payload has ", payload.size(),
                                                   " bytes, want ", update.size() * sizeof(float)));
  }
  std::memcpy(update.data(), payload.data(), payload.size());
  return CheckFinite(update, "codec none");
}

}  // namespace tributary
