#include "coordinator/snapshot_cache.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

void SnapshotCache::Publish(std::shared_ptr<const ModelSnapshot> snapshot) {
  const uint64_t version = snapshot->version;
  versions_[version] = std::move(snapshot);
  // Versions older than the staleness bound can no longer yield an accepted update.
  if (version > max_staleness_) versions_.erase(versions_.begin(), versions_.lower_bound(version - max_staleness_));
}

std::shared_ptr<const ModelSnapshot> SnapshotCache::current() const {
  return versions_.empty() ? nullptr : versions_.rbegin()->second;
}

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> SnapshotCache::Find(uint64_t version) const {
  auto it = versions_.find(version);
  if (it == versions_.end()) {
    return absl::NotFoundError(absl::StrCat("model version ", version, " is no longer served"));
  }
  return it->second;
}

}  // namespace tributary::coordinator
