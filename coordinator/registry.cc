#include "coordinator/registry.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

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

WorkerRecord& WorkerRegistry::Add(absl::string_view name, absl::string_view device, int threads,
                                  const std::string& session_token, absl::Time now) {
  const uint64_t number = next_number_++;
  WorkerRecord& worker = workers_[number];
  worker.id = absl::StrCat("w", number);
  worker.name = std::string(name);
  worker.device = std::string(device);
  worker.threads = threads;
  worker.joined = worker.last_seen = now;
  by_session_[session_token] = number;
  return worker;
}

WorkerRecord* WorkerRegistry::FindActiveBySession(const std::string& session_token) {
  auto it = by_session_.find(session_token);
  if (it == by_session_.end()) return nullptr;
  WorkerRecord& worker = workers_.at(it->second);
  return worker.state == WorkerState::kActive ? &worker : nullptr;
}

WorkerRecord* WorkerRegistry::Find(absl::string_view id) {
  uint64_t number = 0;
  if (id.size() < 2 || id[0] != 'w' || !absl::SimpleAtoi(id.substr(1), &number)) return nullptr;
  auto it = workers_.find(number);
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
  worker.state = state;
  worker.current_task = 0;
}

bool WorkerRegistry::RecordInvalid(WorkerRecord& worker, int limit) {
  ++worker.invalid_requests;
  if (worker.invalid_requests >= limit) End(worker, WorkerState::kBanned);
  return worker.state == WorkerState::kBanned;
}

std::vector<const WorkerRecord*> WorkerRegistry::All() const {
  std::vector<const WorkerRecord*> all;
  for (const auto& [number, worker] : workers_) all.push_back(&worker);
  return all;
}

}  // namespace tributary::coordinator
