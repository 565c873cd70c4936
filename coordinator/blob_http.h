// GET /blobs/<sha256>: a payload by its content address, for HTTP caches.
//
// The digest (64 lowercase hex characters) names exactly the bytes the
// gRPC streams deliver under it (a Task's model_sha256 or shard_sha256, a
// digest-only FetchModel or FetchModelDelta answer), so a response never
// changes and any cache may keep it forever:
//
//   200  Cache-Control: public, max-age=31536000, immutable; ETag: "<sha256>";
//        application/octet-stream, the bytes sent from where they lie
//   404  unknown, or no longer held (a version past the staleness bound);
//        Cache-Control: no-store, so a cache never keeps the miss
//   400  not a digest; no-store too
//
// No bearer token: a digest is 256 bits handed out only over the
// authenticated gRPC API, so knowing it is the capability, and that is what
// lets a shared cache serve one copy to everyone who knows it. Each answer
// is counted (blob_counters.h).
#ifndef TRIBUTARY_COORDINATOR_BLOB_HTTP_H_
#define TRIBUTARY_COORDINATOR_BLOB_HTTP_H_

#include "absl/strings/string_view.h"
#include "coordinator/blob_counters.h"
#include "coordinator/blob_index.h"
#include "coordinator/http_message.h"

namespace tributary::coordinator {

inline constexpr absl::string_view kBlobsPathPrefix = "/blobs/";
inline constexpr absl::string_view kImmutable = "public, max-age=31536000, immutable";

// Answers a request whose path starts with kBlobsPathPrefix; quick (a hash
// lookup), for the status server's loop thread.
HttpResponse ServeBlob(const HttpRequest& request, const BlobIndex& index, BlobCounters& counters);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_BLOB_HTTP_H_
