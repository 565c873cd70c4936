#include "coordinator/stream_table.h"

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

absl::StatusOr<uint64_t> StreamTable::Open(absl::string_view worker, StreamKind kind, absl::Time deadline) {
  auto held = per_worker_.find(worker);
  if (held != per_worker_.end() && held->second >= max_per_worker_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this worker already has ", max_per_worker_, " streams open (limits.max_streams_per_worker)"));
  }
  if (kind == StreamKind::kUpload && uploads_ >= max_uploads_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(max_uploads_, " uploads in flight on the coordinator (limits.max_concurrent_uploads)"));
  }
  const uint64_t id = next_id_++;
  streams_[id] = Stream{std::string(worker), kind, deadline};
  ++per_worker_[worker];
  if (kind == StreamKind::kUpload) ++uploads_;
  by_deadline_.emplace(deadline, id);
  return id;
}

void StreamTable::Close(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const Stream& stream = it->second;
  if (!stream.overdue) {
    for (auto [d, end] = by_deadline_.equal_range(stream.deadline); d != end; ++d) {
      if (d->second == id) {
        by_deadline_.erase(d);
        break;
      }
    }
  }
  auto held = per_worker_.find(stream.worker);
  if (--held->second == 0) per_worker_.erase(held);
  if (stream.kind == StreamKind::kUpload) --uploads_;
  streams_.erase(it);
}

std::vector<uint64_t> StreamTable::TakeOverdue(absl::Time now) {
  std::vector<uint64_t> overdue;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    const uint64_t id = by_deadline_.begin()->second;
    by_deadline_.erase(by_deadline_.begin());
    streams_.at(id).overdue = true;
    overdue.push_back(id);
  }
  return overdue;
}

}  // namespace tributary::coordinator
