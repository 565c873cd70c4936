#include "coordinator/blob_counters.h"

namespace tributary::coordinator {

void BlobCounters::Served(BlobKind kind, const Sha256Digest& digest, int64_t body_bytes) {
  absl::MutexLock lock(&mu_);
  ++stats_.served[static_cast<int>(kind)];
  stats_.bytes_sent += body_bytes;
  auto [it, inserted] = per_digest_.try_emplace(digest, DigestServes{digest, kind, 0});
  ++it->second.serves;
  if (!inserted) return;
  order_.push_back(digest);
  if (order_.size() > max_digests_) {
    per_digest_.erase(order_.front());
    order_.pop_front();
  }
}

void BlobCounters::NotFound() {
  absl::MutexLock lock(&mu_);
  ++stats_.not_found;
}

void BlobCounters::BadRequest() {
  absl::MutexLock lock(&mu_);
  ++stats_.bad_request;
}

BlobStats BlobCounters::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::vector<DigestServes> BlobCounters::PerDigest() const {
  absl::MutexLock lock(&mu_);
  std::vector<DigestServes> out;
  out.reserve(order_.size());
  for (const Sha256Digest& digest : order_) out.push_back(per_digest_.at(digest));
  return out;
}

}  // namespace tributary::coordinator
