#include "coordinator/election.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace tributary::coordinator {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kStandby:
      return "standby";
    case Role::kLeader:
      return "leader";
    case Role::kLost:
      return "lost";
  }
  return "?";
}

LeaderElection::LeaderElection(ElectionStore& store, Clock& clock, ElectionOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

std::string LeaderElection::leader() const {
  absl::MutexLock lock(&mu_);
  return leader_;
}

Role LeaderElection::Step() {
  const absl::Time now = clock_.Now();
  switch (role_.load()) {
    case Role::kStandby:
      return StepStandby(now);
    case Role::kLeader:
      return StepLeader(now);
    case Role::kLost:
      return Role::kLost;
  }
  return role_.load();
}

Role LeaderElection::StepStandby(absl::Time now) {
  absl::StatusOr<std::optional<StoredKey>> holder = store_.Get(options_.key);
  if (!holder.ok()) {
    TLOG(WARNING) << "election: cannot read " << options_.key << ": " << holder.status().message();
    return Role::kStandby;
  }
  if (holder->has_value()) {
    absl::MutexLock lock(&mu_);
    leader_ = (*holder)->value;
    return Role::kStandby;
  }
  // Free: campaign. The lease's clock starts no later than `now`.
  absl::StatusOr<int64_t> lease = store_.GrantLease(options_.ttl);
  if (!lease.ok()) {
    TLOG(WARNING) << "election: cannot take a lease: " << lease.status().message();
    return Role::kStandby;
  }
  absl::StatusOr<StoredKey> key = store_.CreateIfAbsent(options_.key, options_.candidate, *lease);
  if (!key.ok() || key->lease != *lease) {
    // Another candidate was quicker (or the store failed): our lease holds nothing.
    if (absl::Status s = store_.RevokeLease(*lease); !s.ok()) {
      TLOG(WARNING) << "election: cannot give back lease " << *lease << ": " << s.message();
    }
    if (key.ok()) {
      absl::MutexLock lock(&mu_);
      leader_ = key->value;
    } else {
      TLOG(WARNING) << "election: cannot create " << options_.key << ": " << key.status().message();
    }
    return Role::kStandby;
  }
  lease_ = *lease;
  last_renewal_ = now;
  valid_until_ns_ = absl::ToUnixNanos(now + options_.ttl - options_.margin);
  term_ = key->create_revision;
  {
    absl::MutexLock lock(&mu_);
    leader_ = options_.candidate;
  }
  role_ = Role::kLeader;
  TLOG(INFO) << "election: leading " << options_.key << " as " << options_.candidate << " in term " << term_.load()
             << " (lease " << lease_ << ", ttl " << options_.ttl << ")";
  return Role::kLeader;
}

Role LeaderElection::StepLeader(absl::Time now) {
  if (!Leading()) return Role::kLost;
  if (now - last_renewal_ < options_.ttl / 3) return Role::kLeader;
  absl::StatusOr<absl::Duration> left = store_.KeepAlive(lease_);
  if (!left.ok()) {
    // Still leading until the lease would run out; the next step tries again.
    TLOG(WARNING) << "election: cannot renew lease " << lease_ << ": " << left.status().message();
    return Role::kLeader;
  }
  if (*left <= absl::ZeroDuration()) {
    Lose("the store says our lease expired");
    return Role::kLost;
  }
  last_renewal_ = now;
  valid_until_ns_ = absl::ToUnixNanos(now + *left - options_.margin);
  return Role::kLeader;
}

bool LeaderElection::Leading() {
  if (role_.load() != Role::kLeader) return false;
  if (absl::ToUnixNanos(clock_.Now()) < valid_until_ns_.load()) return true;
  Lose("our lease ran out before we could renew it");
  return false;
}

absl::StatusOr<int64_t> LeaderElection::Fence(absl::string_view key, absl::string_view value) {
  if (!Leading()) return absl::FailedPreconditionError("not the leader");
  absl::StatusOr<int64_t> revision = store_.PutIfHeld(options_.key, term_.load(), key, value);
  if (absl::IsFailedPrecondition(revision.status())) {
    Lose(absl::StrCat("the store refused a write in term ", term_.load()));
  }
  return revision;
}

void LeaderElection::Resign() {
  if (role_.exchange(Role::kLost) != Role::kLeader) return;
  if (absl::Status s = store_.RevokeLease(lease_); !s.ok()) {
    TLOG(WARNING) << "election: cannot give back lease " << lease_ << " (it expires by itself): " << s.message();
  }
}

void LeaderElection::Lose(absl::string_view why) {
  if (role_.exchange(Role::kLost) == Role::kLeader) {
    TLOG(WARNING) << "election: lost leadership of term " << term_.load() << ": " << why;
  }
}

}  // namespace tributary::coordinator
