// gzip decompression (zlib), bounded so a hostile file cannot exhaust memory.
#ifndef TRIBUTARY_COMMON_DATA_GZIP_H_
#define TRIBUTARY_COMMON_DATA_GZIP_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

bool IsGzip(absl::string_view data);

// Inflates a gzip stream. DATA_LOSS for corrupt or truncated input,
// RESOURCE_EXHAUSTED when the output would exceed `max_bytes`.
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t max_bytes);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_DATA_GZIP_H_
