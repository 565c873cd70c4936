// The shard ledger: which pieces of the budget are pending, leased to whom
// until when, and done. It is the record that makes "no shard is ever lost,
// none is applied twice" checkable.
//
// The unit of work is one pass of one shard in one epoch (a "work item");
// the budget is epochs x shards items. Each epoch's shards are queued in an
// order shuffled by the seed. Leases that expire, or whose worker leaves or is
// lost, go back to the front of the queue.
//
// A pure state machine: time comes in as arguments, no I/O, no locks (the
// owner serialises calls), no hidden randomness.
#ifndef TRIBUTARY_COORDINATOR_LEDGER_H_
#define TRIBUTARY_COORDINATOR_LEDGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tributary/v1/checkpoint.pb.h"

namespace tributary::coordinator {

enum class WorkState { kPending, kLeased, kDone };

struct WorkItem {
  uint32_t epoch = 0;
  uint32_t shard = 0;
  WorkState state = WorkState::kPending;
  uint64_t task_id = 0;      // The current (or completing) lease; 0 before the first.
  std::string worker;        // Holder of the current lease, or who completed it.
  uint64_t base_version = 0; // Model version the current lease started from.
  absl::Time deadline;       // Of the current lease.
  absl::Time leased_at;      // When the current lease was handed out.
  int leases = 0;            // Times this item was handed out.
  int completions = 0;       // Times it was applied; the ledger keeps it <= 1.
};

struct Lease {
  uint64_t task_id = 0;
  uint32_t epoch = 0;
  uint32_t shard = 0;
  absl::Time deadline;
};

struct LedgerCounts {
  int64_t total = 0;
  int64_t done = 0;
  int64_t leased = 0;
  int64_t pending = 0;
};

// Leases over the run: handed out, of them handed out again (an item
// leased before: its earlier lease expired, was released or revoked, or
// its update was rejected), and given back to the queue by cause.
struct LeaseCounts {
  int64_t leased = 0;
  int64_t reissued = 0;
  int64_t expired = 0;   // Past the deadline: the worker stopped renewing.
  int64_t released = 0;  // Its worker left, was lost or banned, or dropped it.
  int64_t revoked = 0;   // By the run: a round closed without it, or the time ran out.
};

struct LedgerOptions {
  int num_shards = 0;
  int epochs = 1;
  absl::Duration lease_timeout = absl::Seconds(30);
  uint64_t seed = 1;
};

class ShardLedger {
 public:
  explicit ShardLedger(const LedgerOptions& options);

  // A ledger that goes on from SaveState's output, for a job with these
  // options, as the state's next incarnation: its task ids start above any
  // the dead process may have handed out after the save. Leases are not carried over (their holders' sessions died with
  // the process that granted them): leased items go back to the front of
  // the queue. INVALID_ARGUMENT when `state` is not a ledger of this
  // budget: other shard or epoch counts, an item missing or twice, a
  // queue that disagrees with the items' states.
  static absl::StatusOr<ShardLedger> Restore(const LedgerOptions& options,
                                             const tributary::v1::LedgerState& state);
  tributary::v1::LedgerState SaveState() const;

  // Hands the next pending item to `worker`; nullopt when none is pending.
  std::optional<Lease> LeaseNext(absl::string_view worker, uint64_t base_version, absl::Time now);

  // Pushes the deadlines of every lease `worker` holds to now + timeout.
  void Renew(absl::string_view worker, absl::Time now);

  // Returns every lease past its deadline to the queue; returns their task ids.
  std::vector<uint64_t> ExpireLeases(absl::Time now);

  // Returns every lease out to the queue (the run revokes them); returns
  // their task ids.
  std::vector<uint64_t> RevokeAll();

  // Returns every lease `worker` holds to the queue (it left or was lost).
  std::vector<uint64_t> ReleaseWorker(absl::string_view worker);

  // Returns the leases `worker` holds to the queue, except those whose task
  // ids are in `keep` (a pipelining worker still working on them); returns
  // the released task ids. Ids in `keep` that `worker` does not hold are
  // ignored.
  std::vector<uint64_t> ReleaseWorkerExcept(absl::string_view worker, absl::Span<const uint64_t> keep);

  // Whether `worker` may complete `task_id` now:
  //   OK + true   the live lease: the caller may apply the update, then Complete.
  //   OK + false  this exact task was completed before (a retried submit).
  //   NOT_FOUND / PERMISSION_DENIED / FAILED_PRECONDITION otherwise, with why.
  absl::StatusOr<bool> CheckLive(uint64_t task_id, absl::string_view worker, absl::Time now) const;

  // Marks a live lease done. Precondition: CheckLive returned OK + true.
  void Complete(uint64_t task_id);

  // Gives a live lease back to the queue (its update was rejected).
  void Abandon(uint64_t task_id);

  // The item a task id refers to, or nullptr for an unknown id.
  const WorkItem* Find(uint64_t task_id) const;

  // Whether `task_id` is still leased to `worker`.
  bool HoldsLease(uint64_t task_id, absl::string_view worker) const;

  bool finished() const { return counts_.done == counts_.total; }
  LedgerCounts counts() const { return counts_; }
  const LeaseCounts& lease_counts() const { return lease_counts_; }
  const std::vector<WorkItem>& items() const { return items_; }

 private:
  void Requeue(int index);
  // Requeues the leased items `pred` selects; returns their task ids.
  std::vector<uint64_t> RequeueLeasedIf(const std::function<bool(const WorkItem&)>& pred);
  void SetState(WorkItem& item, WorkState state);
  explicit ShardLedger(absl::Duration lease_timeout) : lease_timeout_(lease_timeout) {}

  absl::Duration lease_timeout_;
  std::vector<WorkItem> items_;
  std::deque<int> pending_;     // Indexes into items_, next first.
  absl::btree_set<int> leased_;  // Indexes of leased items, so sweeps skip the rest.
  absl::flat_hash_map<uint64_t, int> task_to_item_;
  uint64_t next_task_id_ = 1;
  uint32_t incarnation_ = 0;
  LedgerCounts counts_;
  LeaseCounts lease_counts_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_LEDGER_H_
