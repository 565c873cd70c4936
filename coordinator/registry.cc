#include "coordinator/registry.h"

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/sha256.h"

namespace tributary::coordinator {
namespace {

std::string SessionKey(const std::string& session_token) { return DigestBytes(Sha256(session_token)); }

// The join number in a worker id "wN"; nullopt for anything else.
std::optional<uint64_t> WorkerNumber(absl::string_view id) {
  uint64_t number = 0;
  if (id.size() < 2 || id[0] != 'w' || !absl::SimpleAtoi(id.substr(1), &number)) return std::nullopt;
  return number;
}

constexpr WorkerState kAllStates[] = {WorkerState::kActive, WorkerState::kLost, WorkerState::kLeft,
                                      WorkerState::kBanned};

// A state by its name, as checkpoints before WorkerSnapshot.State wrote it.
std::optional<WorkerState> StateNamed(absl::string_view name) {
  for (WorkerState state : kAllStates) {
    if (name == WorkerStateName(state)) return state;
  }
  return std::nullopt;
}

tributary::v1::WorkerSnapshot::State SnapshotState(WorkerState state) {
  switch (state) {
    case WorkerState::kActive:
      return tributary::v1::WorkerSnapshot::ACTIVE;
    case WorkerState::kLost:
      return tributary::v1::WorkerSnapshot::LOST;
    case WorkerState::kLeft:
      return tributary::v1::WorkerSnapshot::LEFT;
    case WorkerState::kBanned:
      return tributary::v1::WorkerSnapshot::BANNED;
  }
  return tributary::v1::WorkerSnapshot::STATE_UNSPECIFIED;
}

// The state a record was saved in, from the enum or, when that is unset, the
// name an older checkpoint wrote; INVALID_ARGUMENT naming the record for an
// unknown value or none at all.
absl::StatusOr<WorkerState> SavedState(const tributary::v1::WorkerSnapshot& saved) {
  using Snapshot = tributary::v1::WorkerSnapshot;
  const std::string where = absl::StrCat("worker record \"", SafeText(saved.id()), "\": ");
  switch (saved.state()) {
    case Snapshot::ACTIVE:
      return WorkerState::kActive;
    case Snapshot::LOST:
      return WorkerState::kLost;
    case Snapshot::LEFT:
      return WorkerState::kLeft;
    case Snapshot::BANNED:
      return WorkerState::kBanned;
    case Snapshot::STATE_UNSPECIFIED:
      if (saved.state_name().empty()) return absl::InvalidArgumentError(where + "no state");
      if (std::optional<WorkerState> named = StateNamed(saved.state_name())) return *named;
      return absl::InvalidArgumentError(
          absl::StrCat(where, "unknown state \"", SafeText(saved.state_name()), "\""));
    default:
      return absl::InvalidArgumentError(absl::StrCat(where, "unknown state ", saved.state()));
  }
}

// Forgotten records are counted by the state they ended in.
absl::Status CheckForgotten(const tributary::v1::RunState& state) {
  for (const auto& [name, count] : state.forgotten_workers()) {
    const std::optional<WorkerState> ended = StateNamed(name);
    if (!ended || *ended == WorkerState::kActive || count < 0) {
      return absl::InvalidArgumentError(absl::StrCat("forgotten workers \"", SafeText(name), "\": ", count,
                                                     " (want lost, left or banned, and a count of at least 0)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kActive:
      return "active";
    case WorkerState::kLost:
      return "lost";
    case WorkerState::kLeft:
      return "left";
    case WorkerState::kBanned:
      return "banned";
  }
  return "unknown";
}

WorkerRecord& WorkerRegistry::Add(const WorkerInfo& info, const std::string& session_token, absl::Time now) {
  const uint64_t number = next_number_++;
  WorkerRecord& worker = workers_[number];
  worker.id = absl::StrCat("w", number);
  worker.name = info.name;
  worker.device = info.device;
  worker.threads = info.threads;
  worker.identity = info.identity;
  worker.joined = worker.last_seen = now;
  const std::string key = SessionKey(session_token);
  by_session_[key] = number;
  session_of_[number] = key;
  ++active_by_identity_[worker.identity];
  return worker;
}

WorkerRecord* WorkerRegistry::FindActiveBySession(const std::string& session_token) {
  auto it = by_session_.find(SessionKey(session_token));
  if (it == by_session_.end()) return nullptr;
  return &workers_.at(it->second);
}

int WorkerRegistry::ActiveSessions(absl::string_view identity) const {
  auto it = active_by_identity_.find(identity);
  return it == active_by_identity_.end() ? 0 : it->second;
}

WorkerRecord* WorkerRegistry::Find(absl::string_view id) {
  const std::optional<uint64_t> number = WorkerNumber(id);
  if (!number) return nullptr;
  auto it = workers_.find(*number);
  return it == workers_.end() ? nullptr : &it->second;
}

std::vector<std::string> WorkerRegistry::MarkSilentLost(absl::Time now, absl::Duration timeout) {
  std::vector<std::string> lost;
  for (auto& [number, worker] : workers_) {
    if (worker.state == WorkerState::kActive && now - worker.last_seen > timeout) {
      End(worker, WorkerState::kLost);
      lost.push_back(worker.id);
    }
  }
  return lost;
}

void WorkerRegistry::End(WorkerRecord& worker, WorkerState state) {
  if (worker.state == WorkerState::kActive) {
    const uint64_t number = WorkerNumber(worker.id).value_or(0);
    auto session = session_of_.find(number);
    if (session != session_of_.end()) {
      by_session_.erase(session->second);
      session_of_.erase(session);
    }
    auto active = active_by_identity_.find(worker.identity);
    if (active != active_by_identity_.end() && --active->second == 0) active_by_identity_.erase(active);
    ended_.push_back(number);
  }
  worker.state = state;
  worker.current_task = 0;
  Compact();
}

std::vector<std::string> WorkerRegistry::EndIf(const std::function<bool(const WorkerRecord&)>& pred,
                                               WorkerState state) {
  std::vector<WorkerRecord*> selected;
  for (auto& [number, worker] : workers_) {
    if (worker.state == WorkerState::kActive && pred(worker)) selected.push_back(&worker);
  }
  std::vector<std::string> ids;
  for (WorkerRecord* worker : selected) ids.push_back(worker->id);
  // End() may drop old records, never active ones: the pointers stay valid.
  for (WorkerRecord* worker : selected) End(*worker, state);
  return ids;
}

void WorkerRegistry::Compact() {
  while (ended_.size() > kMaxEndedRecords) {
    auto it = workers_.find(ended_.front());
    ended_.pop_front();
    if (it == workers_.end()) continue;
    ++forgotten_[WorkerStateName(it->second.state)];
    workers_.erase(it);
  }
}

bool WorkerRegistry::RecordInvalid(WorkerRecord& worker, int limit) {
  ++worker.invalid_requests;
  return worker.invalid_requests >= limit;
}

std::vector<const WorkerRecord*> WorkerRegistry::All() const {
  std::vector<const WorkerRecord*> all;
  for (const auto& [number, worker] : workers_) all.push_back(&worker);
  return all;
}

void WorkerRegistry::SaveState(tributary::v1::RunState& state) const {
  for (const auto& [number, worker] : workers_) {
    tributary::v1::WorkerSnapshot& saved = *state.add_workers();
    saved.set_id(worker.id);
    saved.set_name(worker.name);
    saved.set_device(worker.device);
    saved.set_threads(worker.threads);
    saved.set_state(SnapshotState(worker.state));
    saved.set_joined_unix_s(absl::ToUnixMicros(worker.joined) / 1e6);
    saved.set_last_seen_unix_s(absl::ToUnixMicros(worker.last_seen) / 1e6);
    saved.set_tasks_done(worker.tasks_done);
    saved.set_updates_accepted(worker.updates_accepted);
    saved.set_updates_rejected(worker.updates_rejected);
    saved.set_invalid_requests(worker.invalid_requests);
    saved.set_bytes_sent_wire(worker.bytes_sent_wire);
    saved.set_bytes_received_wire(worker.bytes_received_wire);
    saved.set_bytes_received_raw(worker.bytes_received_raw);
    for (const auto& [reason, count] : worker.rejected_by_reason) (*saved.mutable_rejected_by_reason())[reason] = count;
    saved.set_staleness_last(worker.staleness_last);
    saved.set_staleness_sum(worker.staleness_sum);
    saved.set_identity(worker.identity);
    *saved.mutable_time() = worker.time;
  }
  state.set_next_worker_number(next_number_);
  state.mutable_forgotten_workers()->insert(forgotten_.begin(), forgotten_.end());
}

absl::Status WorkerRegistry::RestoreState(const tributary::v1::RunState& state) {
  std::map<uint64_t, WorkerRecord> workers;
  for (const tributary::v1::WorkerSnapshot& saved : state.workers()) {
    const std::optional<uint64_t> number = WorkerNumber(saved.id());
    if (!number || *number >= state.next_worker_number() || workers.count(*number) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("worker record \"", SafeText(saved.id()), "\": bad or repeated id"));
    }
    if (absl::Status s = CheckTimeTotals(saved.time(), absl::StrCat("worker record ", SafeText(saved.id())));
        !s.ok()) {
      return s;
    }
    const absl::StatusOr<WorkerState> saved_state = SavedState(saved);
    if (!saved_state.ok()) return saved_state.status();
    WorkerRecord& worker = workers[*number];
    worker.id = saved.id();
    worker.name = saved.name();
    worker.device = saved.device();
    worker.threads = saved.threads();
    worker.state = *saved_state == WorkerState::kActive ? WorkerState::kLost : *saved_state;
    worker.joined = absl::FromUnixMicros(static_cast<int64_t>(saved.joined_unix_s() * 1e6));
    worker.last_seen = absl::FromUnixMicros(static_cast<int64_t>(saved.last_seen_unix_s() * 1e6));
    worker.tasks_done = saved.tasks_done();
    worker.updates_accepted = saved.updates_accepted();
    worker.updates_rejected = saved.updates_rejected();
    worker.invalid_requests = saved.invalid_requests();
    worker.bytes_sent_wire = saved.bytes_sent_wire();
    worker.bytes_received_wire = saved.bytes_received_wire();
    worker.bytes_received_raw = saved.bytes_received_raw();
    worker.rejected_by_reason.insert(saved.rejected_by_reason().begin(), saved.rejected_by_reason().end());
    worker.staleness_last = saved.staleness_last();
    worker.staleness_sum = saved.staleness_sum();
    worker.identity = saved.identity();
    worker.time = saved.time();
  }
  if (absl::Status s = CheckForgotten(state); !s.ok()) return s;
  workers_ = std::move(workers);
  by_session_.clear();
  session_of_.clear();
  active_by_identity_.clear();
  ended_.clear();
  for (const auto& [number, worker] : workers_) ended_.push_back(number);
  forgotten_ = std::map<std::string, int64_t>(state.forgotten_workers().begin(), state.forgotten_workers().end());
  Compact();
  next_number_ = std::max<uint64_t>(1, state.next_worker_number());
  return absl::OkStatus();
}

}  // namespace tributary::coordinator
