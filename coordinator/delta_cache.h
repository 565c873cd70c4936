// Model deltas (common/codec/model_delta.h) encoded once per pair of
// versions. When a new version appears, every worker that holds an older
// one asks for the same few (from, to) pairs at about the same moment;
// encoding and hashing a delta costs a pass over the whole model, so each
// pair is encoded once and its bytes and digest are shared by every
// download of it.
//
// Bounded: at most `max_entries` finished deltas and `max_bytes` of them
// are kept; beyond either, the least recently used go. A delta larger than
// `max_bytes` alone is handed to its callers and not kept. Deltas being
// encoded are not counted: there is one per pair asked for and not yet
// made, and the service's stream limits bound those requests.
//
// Thread-safe. Encoding and hashing run outside the cache's lock, so a
// slow encode holds up only the callers that wait for that same pair. A
// version's weights never change, so a pair's delta never goes stale; old
// pairs simply age out.
#ifndef TRIBUTARY_COORDINATOR_DELTA_CACHE_H_
#define TRIBUTARY_COORDINATOR_DELTA_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"

namespace tributary::coordinator {

struct EncodedDelta {
  std::string bytes;
  Sha256Digest sha256{};
};

struct DeltaCacheLimits {
  size_t max_entries = 16;
  size_t max_bytes = size_t{128} << 20;
};

class DeltaCache {
 public:
  explicit DeltaCache(DeltaCacheLimits limits) : limits_(limits) {}
  DeltaCache(const DeltaCache&) = delete;
  DeltaCache& operator=(const DeltaCache&) = delete;

  // The delta from version `from` to `to`. When it is neither kept nor
  // being encoded, this caller runs `encode` (returning the delta's bytes)
  // and hashes the result, outside the lock; callers asking for the same
  // pair meanwhile wait for that one encode rather than run their own.
  // `encode` is not kept past the call.
  std::shared_ptr<const EncodedDelta> Get(uint64_t from, uint64_t to, absl::FunctionRef<std::string()> encode);

  // Finished deltas kept, their bytes, and how many encodes ran in all.
  size_t entries() const;
  size_t bytes() const;
  int64_t encodes() const;

 private:
  using Key = std::pair<uint64_t, uint64_t>;
  struct Entry {
    bool ready = false;  // Set once `delta` is.
    std::shared_ptr<const EncodedDelta> delta;
    uint64_t last_use = 0;
  };

  // Stores a finished encode and drops the least recently used finished
  // deltas beyond the limits.
  void Finish(const Key& key, Entry& entry, std::shared_ptr<const EncodedDelta> delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evict() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const DeltaCacheLimits limits_;
  mutable absl::Mutex mu_;
  // Entries being encoded too; a waiter holds its own reference, so an
  // entry evicted before the waiter wakes still hands it the delta.
  absl::flat_hash_map<Key, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  size_t ready_entries_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t uses_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t encodes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_DELTA_CACHE_H_
