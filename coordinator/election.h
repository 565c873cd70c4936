// Leader election for coordinators that share one job: a lease-based lock
// in a key-value store with leases (etcd; ElectionStore is the seam), and
// the fence that keeps a leader that lost its lease from changing anything.
//
// The protocol (the one etcd's own concurrency package uses):
//   - A candidate takes a lease of `ttl` and creates the leader key bound
//     to it, holding its advertised address, only if the key is absent
//     (a transaction). Whoever created it leads; the key's create revision
//     is the leader's term, unique and increasing across leaders.
//   - The leader renews the lease every ttl/3. It counts itself leader
//     only until (the moment it sent its last successful renewal + the TTL
//     the store granted - `margin`): the store cannot have expired the
//     lease before then, so no other candidate can have been elected
//     while this one still believes it leads.
//   - Every write that matters (an applied model version, a checkpoint's
//     location) goes through Fence: a transaction that succeeds only while
//     the leader key still has this leader's term. A leader paused past
//     its lease (SIGSTOP, a long GC-like stall, a partition) that wakes
//     and tries to write is refused by the store itself, whatever its
//     clock says.
//   - A standby polls the key every ttl/4 and campaigns when it is gone.
//
// Once lost, leadership is not regained by the same object: the
// coordinator stops (it holds a run the new leader has moved past) and a
// supervisor starts it again as a standby.
//
// Thread-safe: Step runs on one thread (the election's); Fence, Leading
// and the getters may be called from any.
#ifndef TRIBUTARY_COORDINATOR_ELECTION_H_
#define TRIBUTARY_COORDINATOR_ELECTION_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tributary::coordinator {

// A key as the store holds it.
struct StoredKey {
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;  // The lease it is bound to; 0 for none.
};

// What the election needs from the store; EtcdClient is the real one.
// Every call has its own deadline; UNAVAILABLE / DEADLINE_EXCEEDED when the
// store cannot be reached.
class ElectionStore {
 public:
  virtual ~ElectionStore() = default;
  // A new lease of `ttl`; returns its id.
  virtual absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) = 0;
  // Renews `lease`; returns the time it now has left (zero when it had
  // already expired).
  virtual absl::StatusOr<absl::Duration> KeepAlive(int64_t lease) = 0;
  virtual absl::Status RevokeLease(int64_t lease) = 0;
  // Creates `key` = `value` bound to `lease` if `key` does not exist.
  // Returns the key as it is afterwards: ours, or the holder's.
  virtual absl::StatusOr<StoredKey> CreateIfAbsent(absl::string_view key, absl::string_view value,
                                                   int64_t lease) = 0;
  virtual absl::StatusOr<std::optional<StoredKey>> Get(absl::string_view key) = 0;
  // Puts `key` = `value` only while `guard` exists with create revision
  // `guard_revision`; returns the store's revision of the write, or
  // FAILED_PRECONDITION when the guard no longer holds.
  virtual absl::StatusOr<int64_t> PutIfHeld(absl::string_view guard, int64_t guard_revision, absl::string_view key,
                                            absl::string_view value) = 0;
};

struct ElectionOptions {
  std::string key;        // The leader key, e.g. "/tributary/<job>/leader".
  std::string candidate;  // This candidate's advertised address, stored in the key.
  absl::Duration ttl = absl::Seconds(5);
  // Leadership is given up this long before the lease could expire (clock
  // rates differ a little; the fence covers the rest).
  absl::Duration margin = absl::Milliseconds(500);
};

enum class Role { kStandby, kLeader, kLost };

absl::string_view RoleName(Role role);

class LeaderElection {
 public:
  // `store` and `clock` are borrowed.
  LeaderElection(ElectionStore& store, Clock& clock, ElectionOptions options);

  // Does what is due now: a standby checks the key and campaigns when it
  // is free; a leader renews its lease when a third of the TTL has
  // passed, and becomes kLost when it cannot before its lease runs out.
  // Returns the role afterwards. Errors of the store are logged, not
  // returned: an unreachable store keeps a standby standing by and ends a
  // leader's term when its lease runs out.
  Role Step();

  // How long to wait before the next Step.
  absl::Duration StepInterval() const { return options_.ttl / 10; }

  // Whether this candidate leads now, by its own clock (see the header
  // comment). kLost, and not leading, from the moment it is false.
  bool Leading();

  // Writes `key` = `value` while this candidate still leads, checked by
  // the store (see the header comment); returns the store's revision.
  // FAILED_PRECONDITION, and the role becomes kLost, when it no longer
  // does; UNAVAILABLE when the store cannot say (the caller retries or
  // gives up; the lease runs out on its own).
  absl::StatusOr<int64_t> Fence(absl::string_view key, absl::string_view value);

  // Gives the lease back (a clean shutdown), so a standby need not wait
  // for it to expire.
  void Resign();

  Role role() const { return role_.load(); }
  // The leader key's create revision while leading; 0 before.
  int64_t term() const { return term_.load(); }
  // The leader's address as last read from the store; "" when none was
  // seen. This candidate's own while it leads.
  std::string leader() const;

 private:
  Role StepStandby(absl::Time now);
  Role StepLeader(absl::Time now);
  void Lose(absl::string_view why);

  ElectionStore& store_;
  Clock& clock_;
  const ElectionOptions options_;
  std::atomic<Role> role_{Role::kStandby};
  std::atomic<int64_t> term_{0};
  int64_t lease_ = 0;              // Step's thread only.
  absl::Time last_renewal_;        // Step's thread only.
  std::atomic<int64_t> valid_until_ns_{0};  // Unix nanoseconds: leading until then.
  mutable absl::Mutex mu_;
  std::string leader_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_ELECTION_H_
