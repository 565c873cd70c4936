#include "worker/payload_cache.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include "common/file.h"
#include "common/log.h"

namespace tributary::worker {

PayloadCache::PayloadCache(std::string dir, size_t memory_budget_bytes)
    : dir_(std::move(dir)), budget_(memory_budget_bytes) {}

std::shared_ptr<const std::string> PayloadCache::Get(const Sha256Digest& digest) {
  const std::string key = Sha256Hex(digest);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->payload;
  }
  if (dir_.empty()) return nullptr;
  absl::StatusOr<std::string> bytes = ReadFile(PathOf(key));
  if (!bytes.ok()) return nullptr;
  if (Sha256(*bytes) != digest) {
    TLOG(WARNING) << "cache file " << PathOf(key) << " is corrupt; removing it";
    std::remove(PathOf(key).c_str());
    return nullptr;
  }
  auto payload = std::make_shared<const std::string>(*std::move(bytes));
  Remember(key, payload);
  return payload;
}

void PayloadCache::Put(const Sha256Digest& digest, std::shared_ptr<const std::string> payload,
                       bool persist) {
  const std::string key = Sha256Hex(digest);
  if (persist && !dir_.empty()) {
    // Write then rename, so a crash never leaves a partial file under the final name.
    const std::string tmp = PathOf(key) + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(payload->data(), static_cast<std::streamsize>(payload->size()));
    out.close();
    if (!out || std::rename(tmp.c_str(), PathOf(key).c_str()) != 0) {
      TLOG(WARNING) << "cannot write cache file " << PathOf(key);
      std::remove(tmp.c_str());
    }
  }
  if (index_.find(key) == index_.end()) Remember(key, std::move(payload));
}

void PayloadCache::Remember(const std::string& key, std::shared_ptr<const std::string> payload) {
  used_ += payload->size();
  lru_.push_front(Entry{key, std::move(payload)});
  index_[key] = lru_.begin();
  while (used_ > budget_ && lru_.size() > 1) {
    used_ -= lru_.back().payload->size();
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

}  // namespace tributary::worker
