// The IDX format of (Fashion-)MNIST: a big-endian header (two zero bytes, a
// type byte, a dimension count, then one uint32 per dimension) followed by
// the data. Only unsigned-byte data (type 0x08) is supported.
#ifndef TRIBUTARY_COMMON_DATA_IDX_H_
#define TRIBUTARY_COMMON_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::string data;  // Product of dims bytes, row-major.
};

// Parses an IDX file's bytes (already decompressed). INVALID_ARGUMENT naming
// `what` (usually the path) when the header or size is wrong.
absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view what);

// Reads an IDX file, gunzipping it when it is compressed.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_DATA_IDX_H_
