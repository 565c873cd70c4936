// Payloads (shards, model versions) kept by their SHA-256: in memory up to a
// byte budget, evicting the least recently used; and, when a directory is
// given, on disk as files named by the digest's hex, so a restarted worker
// need not download them again. Whatever is read back from disk is verified
// against its name. Not thread-safe.
#ifndef TRIBUTARY_WORKER_PAYLOAD_CACHE_H_
#define TRIBUTARY_WORKER_PAYLOAD_CACHE_H_

#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "common/sha256.h"

namespace tributary::worker {

class PayloadCache {
 public:
  // `dir` empty: memory only; else created if missing. The newest payload
  // is always kept in memory, so a budget of 0 keeps exactly the latest
  // one. `max_files` > 0 bounds the files in `dir`: persisting one more
  // removes the oldest (files found at start count, oldest first).
  PayloadCache(std::string dir, size_t memory_budget_bytes, size_t max_files = 0);

  // The payload with this digest, or nullptr.
  std::shared_ptr<const std::string> Get(const Sha256Digest& digest);

  // Stores a payload the caller has verified against `digest`; `persist`
  // also writes it to the directory.
  void Put(const Sha256Digest& digest, std::shared_ptr<const std::string> payload, bool persist);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> payload;
  };
  void Remember(const std::string& key, std::shared_ptr<const std::string> payload);
  // Removes the oldest persisted files beyond max_files_.
  void TrimFiles();
  std::string PathOf(const std::string& key) const { return dir_ + "/" + key; }

  std::string dir_;
  size_t budget_;
  size_t max_files_;
  std::deque<std::string> files_;  // Keys persisted in dir_, oldest first (tracked with max_files_ only).
  size_t used_ = 0;
  std::list<Entry> lru_;  // Most recently used first.
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_PAYLOAD_CACHE_H_
