#include "coordinator/blob_index.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {
absl::string_view BlobKindName(BlobKind kind) {
  switch (kind) {
    case BlobKind::kModel: return "model";
    case BlobKind::kDelta: return "delta";
    case BlobKind::kShard: return "shard";
  }
  return "unknown";
}

BlobIndex::BlobIndex(const Dataset& dataset, size_t max_held) : dataset_(dataset), max_held_(max_held) {
  // Two shards with the same bytes are one blob; either serves.
  for (size_t i = 0; i < dataset.shards.size(); ++i) shards_.try_emplace(dataset.shards[i].sha256, i);
}

void BlobIndex::Add(BlobKind kind, const Sha256Digest& digest, const std::shared_ptr<const void>& owner,
                    absl::string_view bytes) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(digest);
  if (it == held_.end()) {
    Trim();
    it = held_.try_emplace(digest).first;
  }
  it->second = Entry{kind, owner, bytes, ++additions_};
}

void BlobIndex::Trim() {
  if (held_.size() < max_held_) return;
  absl::erase_if(held_, [](const auto& entry) { return entry.second.owner.expired(); });
  if (held_.size() < max_held_) return;
  const auto oldest = std::min_element(held_.begin(), held_.end(), [](const auto& a, const auto& b) {
    return a.second.added < b.second.added;
  });
  held_.erase(oldest);
}

bool BlobIndex::Has(const Sha256Digest& digest) const { return Find(digest).has_value(); }

std::optional<Blob> BlobIndex::Find(const Sha256Digest& digest) const {
  if (const auto shard = shards_.find(digest); shard != shards_.end()) {
    return Blob{BlobKind::kShard, nullptr, dataset_.ShardBytes(dataset_.shards[shard->second])};
  }
  absl::MutexLock lock(&mu_);
  const auto it = held_.find(digest);
  if (it == held_.end()) return std::nullopt;
  std::shared_ptr<const void> owner = it->second.owner.lock();
  if (owner == nullptr) return std::nullopt;
  return Blob{it->second.kind, std::move(owner), it->second.bytes};
}

size_t BlobIndex::held_entries() const {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

}  // namespace tributary::coordinator
