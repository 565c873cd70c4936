#include "common/data/idx.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/data/gzip.h"
#include "common/file.h"

namespace tributary {
namespace {

constexpr uint8_t kTypeUnsignedByte = 0x08;
constexpr int kMaxDims = 4;
// Largest decompressed IDX file accepted (Fashion-MNIST's biggest is 47 MB).
constexpr size_t kMaxIdxBytes = size_t{1} << 31;

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

}  // namespace

absl::StatusOr<IdxArray> ParseIdx(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not an IDX file (bad magic)"));
  }
  if (static_cast<uint8_t>(bytes[2]) != kTypeUnsignedByte) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": IDX data type 0x", absl::Hex(static_cast<uint8_t>(bytes[2])), " unsupported (want 0x08)"));
  }
  const int ndims = static_cast<uint8_t>(bytes[3]);
  if (ndims < 1 || ndims > kMaxDims) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": IDX has ", ndims, " dimensions"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": truncated IDX header"));
  }
  IdxArray array;
  uint64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    array.dims.push_back(ReadBigEndian32(bytes.data() + 4 + 4 * d));
    count *= array.dims.back();
    if (count > kMaxIdxBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": IDX dimensions too large"));
    }
  }
  if (bytes.size() - header != count) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": IDX header promises ", count,
                                                   " bytes of data, file has ", bytes.size() - header));
  }
  array.data.assign(bytes.data() + header, count);
  return array;
}

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  absl::StatusOr<std::string> raw = ReadFile(path);
  if (!raw.ok()) return raw.status();
  if (!IsGzip(*raw)) return ParseIdx(*raw, path);
  absl::StatusOr<std::string> inflated = Gunzip(*raw, kMaxIdxBytes);
  if (!inflated.ok()) {
    return absl::Status(inflated.status().code(), absl::StrCat(path, ": ", inflated.status().message()));
  }
  return ParseIdx(*inflated, path);
}

}  // namespace tributary
