#include "common/data/gzip.h"

#include <zlib.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary {

bool IsGzip(absl::string_view data) {
  return data.size() >= 2 && static_cast<uint8_t>(data[0]) == 0x1f &&
         static_cast<uint8_t>(data[1]) == 0x8b;
}

absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      return absl::DataLossError(absl::StrCat("gzip: corrupt or truncated data (zlib error ", rc, ")"));
    }
    const size_t produced = sizeof(buffer) - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("gzip: output exceeds the limit of ", max_bytes, " bytes"));
    }
    out.append(buffer, produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      return absl::DataLossError("gzip: truncated stream");
    }
  }
  return out;
}

}  // namespace tributary
