#include "worker/payload_cache.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/log.h"

namespace tributary::worker {

namespace fs = std::filesystem;

PayloadCache::PayloadCache(std::string dir, size_t memory_budget_bytes, size_t max_files)
    : dir_(std::move(dir)), budget_(memory_budget_bytes), max_files_(max_files) {
  if (dir_.empty()) return;
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) TLOG(WARNING) << "cannot create cache directory " << dir_ << ": " << error.message();
  if (max_files_ == 0) return;
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() == 64 && name.find('.') == std::string::npos) {
      found.emplace_back(entry.last_write_time(error), name);
    }
  }
  std::sort(found.begin(), found.end());
  for (auto& [time, name] : found) files_.push_back(std::move(name));
  TrimFiles();
}

void PayloadCache::TrimFiles() {
  while (max_files_ > 0 && files_.size() > max_files_) {
    std::remove(PathOf(files_.front()).c_str());
    files_.pop_front();
  }
}

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
    } else if (max_files_ > 0) {
      files_.erase(std::remove(files_.begin(), files_.end(), key), files_.end());
      files_.push_back(key);
      TrimFiles();
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
