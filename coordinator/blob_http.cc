#include "coordinator/blob_http.h"

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {
namespace {

HttpResponse Uncacheable(int status, absl::string_view text) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = absl::StrCat(text, "\n");
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace

HttpResponse ServeBlob(const HttpRequest& request, const BlobIndex& index, BlobCounters& counters) {
  const absl::string_view hex = absl::string_view(request.path).substr(kBlobsPathPrefix.size());
  const absl::StatusOr<Sha256Digest> digest = ParseSha256Hex(hex);
  if (!digest.ok()) {
    counters.BadRequest();
    return Uncacheable(400, absl::StrCat("/blobs/: ", digest.status().message()));
  }
  std::optional<Blob> blob = index.Find(*digest);
  if (!blob) {
    counters.NotFound();
    return Uncacheable(404, absl::StrCat("blob ", hex, " is unknown or no longer held"));
  }
  counters.Served(blob->kind, *digest, request.method == "HEAD" ? 0 : static_cast<int64_t>(blob->bytes.size()));
  HttpResponse response;
  response.content_type = "application/octet-stream";
  response.shared_body = blob->bytes;
  response.body_owner = std::move(blob->owner);
  response.headers.emplace_back("Cache-Control", kImmutable);
  response.headers.emplace_back("ETag", absl::StrCat("\"", hex, "\""));
  return response;
}

}  // namespace tributary::coordinator
