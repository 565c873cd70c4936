// What GET /blobs/ served: requests by kind and result, bytes sent, and
// how often each recent digest was served. The per-digest counts are what
// shows a cache in front doing its job (each digest served about once per
// cache, however many workers fetched it); /api/blobs lists them.
//
// Bounded: at most `max_digests` digests are counted one by one; beyond
// that the one first served longest ago is forgotten (the totals keep it).
// Thread-safe.
#ifndef TRIBUTARY_COORDINATOR_BLOB_COUNTERS_H_
#define TRIBUTARY_COORDINATOR_BLOB_COUNTERS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "coordinator/blob_index.h"

namespace tributary::coordinator {

inline constexpr size_t kMaxCountedDigests = 4096;

struct BlobStats {
  std::array<int64_t, kBlobKinds> served{};  // By BlobKind.
  int64_t bytes_sent = 0;                    // Body bytes of GETs (HEAD sends none).
  int64_t not_found = 0;                     // Unknown or no longer held.
  int64_t bad_request = 0;                   // Not a digest.
};

struct DigestServes {
  Sha256Digest digest{};
  BlobKind kind = BlobKind::kShard;
  int64_t serves = 0;
};

class BlobCounters {
 public:
  explicit BlobCounters(size_t max_digests = kMaxCountedDigests) : max_digests_(max_digests) {}

  // One answered request for `digest`, `body_bytes` of it sent.
  void Served(BlobKind kind, const Sha256Digest& digest, int64_t body_bytes);
  void NotFound();
  void BadRequest();

  BlobStats stats() const;
  // The digests counted, in the order first served.
  std::vector<DigestServes> PerDigest() const;

 private:
  const size_t max_digests_;
  mutable absl::Mutex mu_;
  BlobStats stats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Sha256Digest, DigestServes> per_digest_ ABSL_GUARDED_BY(mu_);
  std::deque<Sha256Digest> order_ ABSL_GUARDED_BY(mu_);  // per_digest_'s keys, first served first
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_BLOB_COUNTERS_H_
