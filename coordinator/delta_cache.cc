#include "coordinator/delta_cache.h"

#include <utility>

namespace tributary::coordinator {

std::shared_ptr<const EncodedDelta> DeltaCache::Get(uint64_t from, uint64_t to,
                                                    absl::FunctionRef<std::string()> encode) {
  const Key key(from, to);
  std::shared_ptr<Entry> entry;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = entries_.try_emplace(key, nullptr);
    if (!inserted) {
      entry = it->second;
      mu_.Await(absl::Condition(&entry->ready));
      entry->last_use = ++uses_;
      return entry->delta;
    }
    it->second = entry = std::make_shared<Entry>();
    ++encodes_;
  }
  auto delta = std::make_shared<EncodedDelta>();
  delta->bytes = encode();
  delta->sha256 = Sha256(delta->bytes);
  absl::MutexLock lock(&mu_);
  Finish(key, *entry, delta);
  return delta;
}

void DeltaCache::Finish(const Key& key, Entry& entry, std::shared_ptr<const EncodedDelta> delta) {
  entry.delta = std::move(delta);
  entry.ready = true;
  entry.last_use = ++uses_;
  if (entry.delta->bytes.size() > limits_.max_bytes) {
    entries_.erase(key);  // Waiters hold the entry and still get the delta.
    return;
  }
  ++ready_entries_;
  bytes_ += entry.delta->bytes.size();
  Evict();
}

void DeltaCache::Evict() {
  while (ready_entries_ > limits_.max_entries || bytes_ > limits_.max_bytes) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second->ready && (oldest == entries_.end() || it->second->last_use < oldest->second->last_use)) {
        oldest = it;
      }
    }
    --ready_entries_;
    bytes_ -= oldest->second->delta->bytes.size();
    entries_.erase(oldest);
  }
}

size_t DeltaCache::entries() const {
  absl::MutexLock lock(&mu_);
  return ready_entries_;
}

size_t DeltaCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

int64_t DeltaCache::encodes() const {
  absl::MutexLock lock(&mu_);
  return encodes_;
}

}  // namespace tributary::coordinator
