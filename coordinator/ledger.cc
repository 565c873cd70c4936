#include "coordinator/ledger.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {
namespace {

// Task ids a process may hand out before a resume could collide with them.
constexpr uint64_t kTaskIdsPerIncarnation = 1'000'000'000;

}  // namespace

ShardLedger::ShardLedger(const LedgerOptions& options) : lease_timeout_(options.lease_timeout) {
  std::mt19937_64 rng(options.seed);
  std::vector<uint32_t> order(options.num_shards);
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (uint32_t shard : order) {
      WorkItem item;
      item.epoch = epoch;
      item.shard = shard;
      pending_.push_back(static_cast<int>(items_.size()));
      items_.push_back(std::move(item));
    }
  }
  counts_.total = counts_.pending = static_cast<int64_t>(items_.size());
}

void ShardLedger::SetState(WorkItem& item, WorkState state) {
  auto counter = [this](WorkState s) -> int64_t& {
    switch (s) {
      case WorkState::kPending:
        return counts_.pending;
      case WorkState::kLeased:
        return counts_.leased;
      case WorkState::kDone:
        break;
    }
    return counts_.done;
  };
  --counter(item.state);
  ++counter(state);
  item.state = state;
  const int index = static_cast<int>(&item - items_.data());
  if (state == WorkState::kLeased) {
    leased_.insert(index);
  } else {
    leased_.erase(index);
  }
}

std::optional<Lease> ShardLedger::LeaseNext(absl::string_view worker, uint64_t base_version,
                                            absl::Time now) {
  if (pending_.empty()) return std::nullopt;
  const int index = pending_.front();
  pending_.pop_front();
  WorkItem& item = items_[index];
  SetState(item, WorkState::kLeased);
  item.task_id = next_task_id_++;
  item.worker = std::string(worker);
  item.base_version = base_version;
  item.deadline = now + lease_timeout_;
  item.leased_at = now;
  ++lease_counts_.leased;
  if (item.leases > 0) ++lease_counts_.reissued;
  ++item.leases;
  task_to_item_[item.task_id] = index;
  return Lease{item.task_id, item.epoch, item.shard, item.deadline};
}

void ShardLedger::Renew(absl::string_view worker, absl::Time now) {
  for (int index : leased_) {
    if (items_[index].worker == worker) items_[index].deadline = now + lease_timeout_;
  }
}

void ShardLedger::Requeue(int index) {
  SetState(items_[index], WorkState::kPending);
  pending_.push_front(index);
}

std::vector<uint64_t> ShardLedger::RequeueLeasedIf(const std::function<bool(const WorkItem&)>& pred) {
  std::vector<int> matching;
  for (int index : leased_) {
    if (pred(items_[index])) matching.push_back(index);
  }
  std::vector<uint64_t> task_ids;
  for (int index : matching) {
    task_ids.push_back(items_[index].task_id);
    Requeue(index);
  }
  return task_ids;
}

std::vector<uint64_t> ShardLedger::ExpireLeases(absl::Time now) {
  std::vector<uint64_t> ids = RequeueLeasedIf([now](const WorkItem& item) { return item.deadline <= now; });
  lease_counts_.expired += static_cast<int64_t>(ids.size());
  return ids;
}

std::vector<uint64_t> ShardLedger::RevokeAll() {
  std::vector<uint64_t> ids = RequeueLeasedIf([](const WorkItem&) { return true; });
  lease_counts_.revoked += static_cast<int64_t>(ids.size());
  return ids;
}

std::vector<uint64_t> ShardLedger::ReleaseWorker(absl::string_view worker) {
  return ReleaseWorkerExcept(worker, {});
}

std::vector<uint64_t> ShardLedger::ReleaseWorkerExcept(absl::string_view worker,
                                                       absl::Span<const uint64_t> keep) {
  std::vector<uint64_t> ids = RequeueLeasedIf([worker, keep](const WorkItem& item) {
    return item.worker == worker && std::find(keep.begin(), keep.end(), item.task_id) == keep.end();
  });
  lease_counts_.released += static_cast<int64_t>(ids.size());
  return ids;
}

const WorkItem* ShardLedger::Find(uint64_t task_id) const {
  auto it = task_to_item_.find(task_id);
  return it == task_to_item_.end() ? nullptr : &items_[it->second];
}

absl::StatusOr<bool> ShardLedger::CheckLive(uint64_t task_id, absl::string_view worker,
                                            absl::Time now) const {
  const WorkItem* item = Find(task_id);
  if (item == nullptr) return absl::NotFoundError(absl::StrCat("task ", task_id, ": unknown task"));
  if (item->task_id != task_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task_id, ": lease expired; shard ", item->shard, " was handed out again"));
  }
  if (item->worker != worker) {
    return absl::PermissionDeniedError(absl::StrCat("task ", task_id, ": not leased to you"));
  }
  if (item->state == WorkState::kDone) return false;
  if (item->state == WorkState::kPending || item->deadline <= now) {
    return absl::FailedPreconditionError(absl::StrCat("task ", task_id, ": lease expired"));
  }
  return true;
}

bool ShardLedger::HoldsLease(uint64_t task_id, absl::string_view worker) const {
  const WorkItem* item = Find(task_id);
  return item != nullptr && item->task_id == task_id && item->worker == worker &&
         item->state == WorkState::kLeased;
}

void ShardLedger::Complete(uint64_t task_id) {
  WorkItem& item = items_[task_to_item_.at(task_id)];
  SetState(item, WorkState::kDone);
  ++item.completions;
}

void ShardLedger::Abandon(uint64_t task_id) {
  const int index = task_to_item_.at(task_id);
  if (items_[index].state == WorkState::kLeased) Requeue(index);
}

tributary::v1::LedgerState ShardLedger::SaveState() const {
  tributary::v1::LedgerState state;
  state.mutable_items()->Reserve(items_.size());
  for (const WorkItem& item : items_) {
    tributary::v1::LedgerItemState& saved = *state.add_items();
    saved.set_epoch(item.epoch);
    saved.set_shard(item.shard);
    saved.set_state(item.state == WorkState::kDone     ? tributary::v1::LedgerItemState::DONE
                    : item.state == WorkState::kLeased ? tributary::v1::LedgerItemState::LEASED
                                                       : tributary::v1::LedgerItemState::PENDING);
    saved.set_task_id(item.task_id);
    saved.set_worker(item.worker);
    saved.set_base_version(item.base_version);
    saved.set_leases(item.leases);
    saved.set_completions(item.completions);
  }
  for (int index : pending_) state.add_pending(index);
  state.set_next_task_id(next_task_id_);
  state.set_incarnation(incarnation_);
  state.set_expired(lease_counts_.expired);
  state.set_released(lease_counts_.released);
  state.set_revoked(lease_counts_.revoked);
  return state;
}

absl::StatusOr<ShardLedger> ShardLedger::Restore(const LedgerOptions& options,
                                                 const tributary::v1::LedgerState& state) {
  const int64_t total = static_cast<int64_t>(options.num_shards) * options.epochs;
  if (state.items_size() != total) {
    return absl::InvalidArgumentError(absl::StrCat("ledger has ", state.items_size(), " items; this job's budget is ",
                                                   options.epochs, " epochs x ", options.num_shards, " shards"));
  }
  ShardLedger ledger(options.lease_timeout);
  ledger.items_.reserve(total);
  ledger.next_task_id_ = state.next_task_id();
  std::vector<bool> seen(total, false);  // By epoch * shards + shard.
  std::vector<int> was_leased;
  for (int index = 0; index < total; ++index) {
    const tributary::v1::LedgerItemState& saved = state.items(index);
    const std::string where = absl::StrCat("ledger item ", index, ": ");
    if (saved.epoch() >= static_cast<uint32_t>(options.epochs) ||
        saved.shard() >= static_cast<uint32_t>(options.num_shards)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "epoch ", saved.epoch(), " shard ", saved.shard(),
                                                     " is outside the budget"));
    }
    const int64_t key = static_cast<int64_t>(saved.epoch()) * options.num_shards + saved.shard();
    if (seen[key]) {
      return absl::InvalidArgumentError(absl::StrCat(where, "epoch ", saved.epoch(), " shard ", saved.shard(),
                                                     " appears twice"));
    }
    seen[key] = true;
    const bool done = saved.state() == tributary::v1::LedgerItemState::DONE;
    if (saved.completions() != (done ? 1 : 0) || saved.leases() < saved.completions() ||
        saved.task_id() >= ledger.next_task_id_ || (saved.leases() > 0) != (saved.task_id() != 0)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "inconsistent counts (", saved.leases(), " leases, ",
                                                     saved.completions(), " completions, task ", saved.task_id(),
                                                     " of ", ledger.next_task_id_, ")"));
    }
    WorkItem item;
    item.epoch = saved.epoch();
    item.shard = saved.shard();
    item.state = done ? WorkState::kDone : WorkState::kPending;
    item.task_id = saved.task_id();
    item.worker = saved.worker();
    item.base_version = saved.base_version();
    item.leases = saved.leases();
    item.completions = saved.completions();
    ledger.lease_counts_.leased += item.leases;
    ledger.lease_counts_.reissued += std::max(0, item.leases - 1);
    if (item.task_id != 0) ledger.task_to_item_[item.task_id] = index;
    if (saved.state() == tributary::v1::LedgerItemState::LEASED) was_leased.push_back(index);
    ++(done ? ledger.counts_.done : ledger.counts_.pending);
    ledger.items_.push_back(std::move(item));
  }
  ledger.counts_.total = total;
  if (state.expired() < 0 || state.released() < 0 || state.revoked() < 0) {
    return absl::InvalidArgumentError("ledger: negative lease counts");
  }
  ledger.lease_counts_.expired = state.expired();
  ledger.lease_counts_.released = state.released();
  ledger.lease_counts_.revoked = state.revoked();
  ledger.incarnation_ = state.incarnation() + 1;
  ledger.next_task_id_ = std::max(ledger.next_task_id_, kTaskIdsPerIncarnation * ledger.incarnation_ + 1);

  std::vector<bool> queued(total, false);
  for (uint32_t index : state.pending()) {
    if (index >= total || queued[index] || state.items(index).state() != tributary::v1::LedgerItemState::PENDING) {
      return absl::InvalidArgumentError(absl::StrCat("ledger queue: entry ", index, " is not a pending item"));
    }
    queued[index] = true;
    ledger.pending_.push_back(index);
  }
  const int64_t pending_items = ledger.counts_.pending - static_cast<int64_t>(was_leased.size());
  if (static_cast<int64_t>(ledger.pending_.size()) != pending_items) {
    return absl::InvalidArgumentError(absl::StrCat("ledger queue holds ", ledger.pending_.size(), " of ",
                                                   pending_items, " pending items"));
  }
  // The interrupted leases first, as expired ones would go.
  for (auto it = was_leased.rbegin(); it != was_leased.rend(); ++it) ledger.pending_.push_front(*it);
  return ledger;
}

}  // namespace tributary::coordinator
