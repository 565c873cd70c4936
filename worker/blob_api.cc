#include "worker/blob_api.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace tributary::worker {
namespace {

std::string Hex(const std::string& digest) { return absl::BytesToHexString(digest); }

}  // namespace

std::string BlobFetchStats::Line() const {
  return absl::StrFormat("%d ok (%d bytes), %d failed (%d digest mismatches)", ok, bytes, failed,
                         digest_mismatches);
}

BlobFetchStats BlobFirstApi::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::optional<std::string> BlobFirstApi::TryGet(absl::string_view what, const BlobRef& ref) {
  absl::StatusOr<BlobBody> body = source_.Get(ref);
  std::string why;
  bool mismatch = false;
  if (!body.ok()) {
    why = std::string(body.status().message());
  } else if (body->bytes.size() != ref.bytes) {
    why = absl::StrCat(body->bytes.size(), " bytes, ", ref.bytes, " expected");
  } else if (DigestBytes(body->sha256) != ref.sha256) {
    mismatch = true;
    why = absl::StrCat("digest mismatch (got ", Sha256Hex(body->sha256), ")");
  }
  {
    absl::MutexLock lock(&mu_);
    if (why.empty()) {
      ++stats_.ok;
      stats_.bytes += static_cast<int64_t>(ref.bytes);
    } else {
      ++stats_.failed;
      if (mismatch) ++stats_.digest_mismatches;
    }
  }
  if (why.empty()) return std::move(body->bytes);
  TLOG(WARNING) << what << ": blob " << Hex(ref.sha256) << " from " << source_.Url(ref) << " failed: " << why
                << "; fetching it over gRPC";
  return std::nullopt;
}

absl::StatusOr<std::string> BlobFirstApi::FetchModel(uint64_t version, const std::string& sha256, uint64_t bytes) {
  BlobRef ref{sha256, bytes};
  if (sha256.empty()) {
    // A version learnt of from a submit's reply: ask for its digest first.
    absl::StatusOr<BlobRef> described = api_.DescribeModel(version);
    if (!described.ok() || described->bytes > bytes) return api_.FetchModel(version, sha256, bytes);
    ref = *std::move(described);
  }
  if (std::optional<std::string> blob = TryGet(absl::StrCat("model v", version), ref)) return *std::move(blob);
  return api_.FetchModel(version, ref.sha256, ref.bytes);
}

absl::StatusOr<std::string> BlobFirstApi::FetchModelDelta(uint64_t version, uint64_t from_version,
                                                          uint64_t max_bytes) {
  absl::StatusOr<BlobRef> ref = api_.DescribeModelDelta(version, from_version);
  // NOT_FOUND: the worker fetches the model whole instead, as it would after the stream's.
  if (absl::IsNotFound(ref.status())) return ref.status();
  if (ref.ok() && ref->bytes <= max_bytes) {
    const std::string what = absl::StrCat("model v", version, " (delta from v", from_version, ")");
    if (std::optional<std::string> blob = TryGet(what, *ref)) return *std::move(blob);
  }
  return api_.FetchModelDelta(version, from_version, max_bytes);
}

absl::StatusOr<std::string> BlobFirstApi::FetchShard(uint64_t shard_id, const std::string& sha256,
                                                     uint64_t bytes) {
  if (std::optional<std::string> blob = TryGet(absl::StrCat("shard ", shard_id), BlobRef{sha256, bytes})) {
    return *std::move(blob);
  }
  return api_.FetchShard(shard_id, sha256, bytes);
}

}  // namespace tributary::worker
