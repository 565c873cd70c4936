#include "worker/failover_client.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace tributary::worker {

FailoverClient::FailoverClient(std::vector<std::string> addresses, Connect connect)
    : addresses_(std::move(addresses)), connect_(std::move(connect)), current_(addresses_.front()) {}

std::string FailoverClient::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

CoordinatorApi& FailoverClient::Current(std::string* address) {
  absl::MutexLock lock(&mu_);
  *address = current_;
  std::unique_ptr<CoordinatorApi>& client = clients_[current_];
  if (!client) client = connect_(current_);
  return *client;
}

void FailoverClient::MoveTo(const std::string& from, const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (current_ != from || current_ == address) return;
  current_ = address;
  TLOG(INFO) << "coordinator " << from << " does not lead; trying " << address;
}

void FailoverClient::MoveToNext(const std::string& from) {
  if (addresses_.size() < 2) return;
  auto it = std::find(addresses_.begin(), addresses_.end(), from);
  // An address a standby named, not in the list: back to the list's first.
  const std::string next = it == addresses_.end() || it + 1 == addresses_.end() ? addresses_.front() : *(it + 1);
  MoveTo(from, next);
}

template <typename Call>
auto FailoverClient::Route(const Call& call) -> decltype(call(std::declval<CoordinatorApi&>())) {
  std::string address;
  auto result = call(Current(&address));
  // UNAVAILABLE: down, or a standby; DEADLINE_EXCEEDED: a leader that
  // stopped answering (frozen, partitioned) while its connection stays up.
  if (!result.ok() && (absl::IsUnavailable(result.status()) || absl::IsDeadlineExceeded(result.status()))) {
    if (std::optional<std::string> leader = LeaderHint(result.status())) {
      MoveTo(address, *leader);
    } else {
      MoveToNext(address);
    }
  }
  return result;
}

absl::StatusOr<tributary::v1::JoinResponse> FailoverClient::Join(const tributary::v1::JoinRequest& request) {
  return Route([&](CoordinatorApi& api) { return api.Join(request); });
}

absl::StatusOr<tributary::v1::HeartbeatResponse> FailoverClient::Heartbeat(uint64_t current_task,
                                                                         absl::Span<const uint64_t> held) {
  return Route([&](CoordinatorApi& api) { return api.Heartbeat(current_task, held); });
}

absl::StatusOr<tributary::v1::GetTaskResponse> FailoverClient::GetTask(absl::Span<const uint64_t> keep) {
  return Route([&](CoordinatorApi& api) { return api.GetTask(keep); });
}

absl::StatusOr<std::string> FailoverClient::FetchModel(uint64_t version, const std::string& sha256, uint64_t bytes) {
  return Route([&](CoordinatorApi& api) { return api.FetchModel(version, sha256, bytes); });
}

absl::StatusOr<std::string> FailoverClient::FetchModelDelta(uint64_t version, uint64_t from_version,
                                                            uint64_t max_bytes) {
  return Route([&](CoordinatorApi& api) { return api.FetchModelDelta(version, from_version, max_bytes); });
}

absl::StatusOr<std::string> FailoverClient::FetchShard(uint64_t shard_id, const std::string& sha256, uint64_t bytes) {
  return Route([&](CoordinatorApi& api) { return api.FetchShard(shard_id, sha256, bytes); });
}

absl::StatusOr<BlobRef> FailoverClient::DescribeModel(uint64_t version) {
  return Route([&](CoordinatorApi& api) { return api.DescribeModel(version); });
}

absl::StatusOr<BlobRef> FailoverClient::DescribeModelDelta(uint64_t version, uint64_t from_version) {
  return Route([&](CoordinatorApi& api) { return api.DescribeModelDelta(version, from_version); });
}

absl::StatusOr<tributary::v1::SubmitUpdateResponse> FailoverClient::SubmitUpdate(
    const tributary::v1::UpdateHeader& header, const std::string& payload, absl::Duration* upload,
    const UploadProgress& progress) {
  return Route([&](CoordinatorApi& api) { return api.SubmitUpdate(header, payload, upload, progress); });
}

absl::Status FailoverClient::Leave() {
  std::string address;
  return Current(&address).Leave();
}

bool FailoverClient::WaitForConnection(absl::Duration timeout) {
  std::string address;
  if (Current(&address).WaitForConnection(timeout)) return true;
  MoveToNext(address);
  return false;
}

}  // namespace tributary::worker
