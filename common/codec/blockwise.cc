#include "common/codec/blockwise.h"

namespace tributary {

absl::Status TakeBlocks(PayloadReader& in, size_t n, int block_size, size_t level_bytes, absl::string_view format,
                        absl::string_view* scales, absl::string_view* levels) {
  if (!in.Take(NumBlocks(n, block_size) * sizeof(float), scales) || !in.Take(level_bytes, levels)) {
    return absl::InvalidArgumentError(absl::StrCat("payload too short for ", n, " ", format, " values"));
  }
  return absl::OkStatus();
}

absl::Status CheckBlockScale(float scale, size_t b) {
  if (!std::isfinite(scale)) {
    return absl::InvalidArgumentError(absl::StrCat("block ", b, " has a NaN or Inf scale"));
  }
  if (scale < 0) return absl::InvalidArgumentError(absl::StrCat("block ", b, " has scale ", scale));
  return absl::OkStatus();
}

}  // namespace tributary
