// Blobs by content address: the payloads the coordinator can serve under
// their SHA-256 digest on GET /blobs/<hex> (blob_http.h), the very bytes
// FetchShard, FetchModel and FetchModelDelta stream, so that any HTTP cache
// in front of the coordinator can fan them out.
//
// Shards are always held (the dataset outlives the index). Models and
// deltas are held weakly: the service adds each one it hands out (a task's
// model, a download, a digest-only answer), and the index keeps it
// findable for as long as something else keeps it alive (the run's
// SnapshotCache, the service's DeltaCache, a download in flight). So the
// index never keeps a model in memory and needs no word from the run when
// a version falls out of the staleness bound: its digest simply stops
// being found. At most `max_held` weak entries (expired ones go first,
// then the oldest).
//
// Thread-safe; every call is a hash-map lookup or insert under a short
// lock of its own (never the run's): the status server's loop thread asks.
#ifndef TRIBUTARY_COORDINATOR_BLOB_INDEX_H_
#define TRIBUTARY_COORDINATOR_BLOB_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"
#include "coordinator/dataset.h"

namespace tributary::coordinator {

enum class BlobKind { kModel, kDelta, kShard };
inline constexpr int kBlobKinds = 3;

// "model", "delta", "shard": the label /api/status and /metrics use.
absl::string_view BlobKindName(BlobKind kind);

// Weakly held models and deltas: a few versions back to the staleness
// bound and the delta cache's 16 pairs fit many times over.
inline constexpr size_t kMaxHeldBlobs = 1024;

struct Blob {
  BlobKind kind = BlobKind::kShard;
  // Keeps `bytes` alive while the blob is written out; null for a shard.
  std::shared_ptr<const void> owner;
  absl::string_view bytes;
};

class BlobIndex {
 public:
  // `dataset` is borrowed and must outlive the index.
  explicit BlobIndex(const Dataset& dataset, size_t max_held = kMaxHeldBlobs);
  BlobIndex(const BlobIndex&) = delete;
  BlobIndex& operator=(const BlobIndex&) = delete;

  // Makes `bytes`, whose SHA-256 is `digest` and which `owner` keeps alive,
  // findable while anything else holds `owner`. Adding a digest again
  // refreshes it.
  void Add(BlobKind kind, const Sha256Digest& digest, const std::shared_ptr<const void>& owner,
           absl::string_view bytes);
  // Whether Find(digest) would find it now.
  bool Has(const Sha256Digest& digest) const;
  // The blob named `digest`, nullopt if it is unknown or no longer held.
  std::optional<Blob> Find(const Sha256Digest& digest) const;

  // Weak entries, expired or not (for tests of the bound).
  size_t held_entries() const;

 private:
  struct Entry {
    BlobKind kind;
    std::weak_ptr<const void> owner;
    absl::string_view bytes;
    uint64_t added;  // Order of addition, for dropping the oldest.
  };
  // Makes room for one more entry.
  void Trim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Dataset& dataset_;
  const size_t max_held_;
  absl::flat_hash_map<Sha256Digest, size_t> shards_;  // Index into dataset_.shards; fixed after construction.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Sha256Digest, Entry> held_ ABSL_GUARDED_BY(mu_);
  uint64_t additions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_BLOB_INDEX_H_
