// --blob_url: blobs fetched by digest over plain HTTP, GET
// <url>/blobs/<sha256 hex>, from the coordinator's status port or an HTTP
// cache in front of it (deploy/nginx/tributary-cache.conf).
//
// http:// only: what comes back is checked against the digest the worker
// got over the authenticated gRPC API (blob_api.h), so transport security
// adds nothing to integrity here, and the blobs are meant to be shared.
//
// Bounded like a gRPC download (timeouts.h): a connection within
// kUnaryTimeout, the whole body within TransferTimeout(expected size)
// (checked as data arrives; a stalled read waits at most as long), a body
// no larger than expected. Hashed as it arrives. One connection per
// request, so concurrent Gets share nothing. Thread-safe.
#ifndef TRIBUTARY_WORKER_HTTP_BLOB_SOURCE_H_
#define TRIBUTARY_WORKER_HTTP_BLOB_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/blob_api.h"

namespace tributary::worker {

struct BlobUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  int port = 80;
  std::string path;  // "" or "/prefix", without a trailing slash

  // "http://host:port/prefix"
  std::string ToString() const;
};

// "http://HOST[:PORT][/PATH]". INVALID_ARGUMENT saying what is wrong for
// anything else (another scheme, no host, a bad port, a query, spaces).
absl::StatusOr<BlobUrl> ParseBlobUrl(absl::string_view url);

class HttpBlobSource : public BlobSource {
 public:
  explicit HttpBlobSource(BlobUrl url) : url_(std::move(url)) {}

  absl::StatusOr<BlobBody> Get(const BlobRef& ref) override;
  std::string Url(const BlobRef& ref) const override;

 private:
  std::string Path(const BlobRef& ref) const;

  const BlobUrl url_;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_HTTP_BLOB_SOURCE_H_
