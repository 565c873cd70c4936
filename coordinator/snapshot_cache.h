// The model versions the run serves: the current one and the older ones an
// update may still be based on (back to the staleness bound), each an
// immutable ModelSnapshot. Whoever changes the weights makes the new
// version's snapshot (a copy, outside the run's lock) and publishes it
// here; publishing drops the versions that fell out of the bound.
//
// Pure; not thread-safe (the run guards it with its bookkeeping lock).
#ifndef TRIBUTARY_COORDINATOR_SNAPSHOT_CACHE_H_
#define TRIBUTARY_COORDINATOR_SNAPSHOT_CACHE_H_

#include <cstdint>
#include <memory>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "coordinator/model_snapshot.h"

namespace tributary::coordinator {

class SnapshotCache {
 public:
  explicit SnapshotCache(uint64_t max_staleness) : max_staleness_(max_staleness) {}

  // Makes `snapshot` the current version. Its version must not be below
  // the current one's; versions more than max_staleness below it go.
  void Publish(std::shared_ptr<const ModelSnapshot> snapshot);

  // Drops every version (a restored run publishes its own).
  void Clear() { versions_.clear(); }

  // The current version's snapshot; nullptr before the first Publish.
  std::shared_ptr<const ModelSnapshot> current() const;
  uint64_t version() const { return versions_.empty() ? 0 : versions_.rbegin()->first; }

  // `version`, if it is still served; NOT_FOUND for any other.
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> Find(uint64_t version) const;

  size_t size() const { return versions_.size(); }

 private:
  const uint64_t max_staleness_;
  absl::btree_map<uint64_t, std::shared_ptr<const ModelSnapshot>> versions_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_SNAPSHOT_CACHE_H_
