#include "worker/coordinator_api.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/wire.h"
#include "worker/timeouts.h"

namespace tributary::worker {

absl::StatusOr<BlobRef> CoordinatorApi::DescribeModel(uint64_t version) {
  return absl::UnimplementedError(absl::StrCat("model v", version, ": no digest-only call"));
}

absl::StatusOr<BlobRef> CoordinatorApi::DescribeModelDelta(uint64_t version, uint64_t from_version) {
  return absl::UnimplementedError(absl::StrCat("model v", version, " from v", from_version, ": no digest-only call"));
}

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  absl::Status prefixed(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload(
      [&prefixed](absl::string_view url, const absl::Cord& payload) { prefixed.SetPayload(url, payload); });
  return prefixed;
}

absl::Status WithRetryHint(absl::Status status, absl::Duration wait) {
  status.SetPayload(kRetryAfterMetadataKey, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(wait))));
  return status;
}

std::optional<absl::Duration> RetryHint(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterMetadataKey);
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms) || ms <= 0) return std::nullopt;
  return std::min(absl::Milliseconds(ms), kMaxRetryHint);
}

absl::Status WithLeaderHint(absl::Status status, absl::string_view leader) {
  status.SetPayload(kLeaderMetadataKey, absl::Cord(leader));
  return status;
}

std::optional<std::string> LeaderHint(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kLeaderMetadataKey);
  if (!payload || payload->empty()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace tributary::worker
