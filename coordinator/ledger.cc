#include "coordinator/ledger.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

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
  return RequeueLeasedIf([now](const WorkItem& item) { return item.deadline <= now; });
}

std::vector<uint64_t> ShardLedger::ReleaseWorker(absl::string_view worker) {
  return RequeueLeasedIf([worker](const WorkItem& item) { return item.worker == worker; });
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

}  // namespace tributary::coordinator
