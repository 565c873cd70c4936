// The worker registry: who joined, under which session, when each was last
// heard from, and what each has done. Pure bookkeeping: session tokens are
// made by the caller (from a CSPRNG), time comes in as arguments, and the
// owner serialises calls.
//
// Memory stays bounded however many workers come and go: only a session
// token's SHA-256 is kept (so no secret sits in a record), a session is
// forgotten when it ends, and of the ended records only the newest
// kMaxEndedRecords stay; older ones are dropped and counted by state.
#ifndef TRIBUTARY_COORDINATOR_REGISTRY_H_
#define TRIBUTARY_COORDINATOR_REGISTRY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "coordinator/time_budget.h"
#include "tributary/v1/checkpoint.pb.h"

namespace tributary::coordinator {

enum class WorkerState { kActive, kLost, kLeft, kBanned };

// Records of ended sessions kept in memory (and on the status page).
inline constexpr size_t kMaxEndedRecords = 1000;

// What a worker says about itself at Join, and who it is
// (coordinator/identity.h). The service bounds and escapes the name and
// device (SafeText) before they get here, so they are fit for logs and
// pages as they are.
struct WorkerInfo {
  std::string name;
  std::string device;
  int threads = 0;
  std::string identity;
};

const char* WorkerStateName(WorkerState state);

struct WorkerRecord {
  std::string id;
  std::string name;
  std::string device;
  int threads = 0;
  std::string identity;
  WorkerState state = WorkerState::kActive;
  absl::Time joined;
  absl::Time last_seen;
  uint64_t current_task = 0;  // As the worker last reported; 0 when idle.
  int64_t tasks_done = 0;
  int64_t updates_accepted = 0;
  int64_t updates_rejected = 0;
  int64_t invalid_requests = 0;
  int64_t bytes_sent_wire = 0;
  int64_t bytes_received_wire = 0;
  int64_t bytes_received_raw = 0;
  std::map<std::string, int64_t> rejected_by_reason;
  // Staleness of its accepted updates.
  uint64_t staleness_last = 0;
  uint64_t staleness_sum = 0;
  // The time budgets it reported: summed, and its last few.
  tributary::v1::TimeBudget time;
  UtilizationWindow recent_time;
};

class WorkerRegistry {
 public:
  // Registers a new active worker under `session_token`; returns its record.
  WorkerRecord& Add(const WorkerInfo& info, const std::string& session_token, absl::Time now);

  // The active worker holding this session, or nullptr. A lost, departed or
  // banned worker's session is dead: it must join again.
  WorkerRecord* FindActiveBySession(const std::string& session_token);
  WorkerRecord* Find(absl::string_view id);

  // Marks a worker heard from at `now`.
  void Touch(WorkerRecord& worker, absl::Time now) { worker.last_seen = now; }

  // Marks active workers silent for longer than `timeout` as lost; returns
  // their ids.
  std::vector<std::string> MarkSilentLost(absl::Time now, absl::Duration timeout);

  // Ends a worker's session in `state` (kLeft, kLost or kBanned). The
  // record may be dropped from memory later: do not keep the reference.
  void End(WorkerRecord& worker, WorkerState state);

  // Active sessions held by `identity`, and by all.
  int ActiveSessions(absl::string_view identity) const;
  int active() const { return static_cast<int>(by_session_.size()); }

  // Ends, in `state`, the active sessions whose identity `pred` selects;
  // returns their ids.
  std::vector<std::string> EndIf(const std::function<bool(const WorkerRecord&)>& pred, WorkerState state);

  // Records dropped from memory, by state name.
  const std::map<std::string, int64_t>& forgotten() const { return forgotten_; }

  // Counts an invalid request; returns whether the worker reached `limit`
  // (the caller bans its identity).
  bool RecordInvalid(WorkerRecord& worker, int limit);

  // All workers ever seen, in join order.
  std::vector<const WorkerRecord*> All() const;

  // Every record, for a checkpoint; sessions are not saved.
  void SaveState(tributary::v1::RunState& state) const;
  // Takes the records of a checkpoint (replacing these). Sessions died with
  // the process that made them, so workers active then are lost now and
  // must join again, under new ids. Reads the state of checkpoints written
  // before WorkerSnapshot.State from its name. INVALID_ARGUMENT, naming the
  // record and leaving the registry as it was, for a malformed record (a bad
  // or repeated id, no state or an unknown one, impossible time totals) or
  // forgotten-worker counts under anything but an ended state.
  absl::Status RestoreState(const tributary::v1::RunState& state);

 private:
  // Drops the oldest ended records beyond kMaxEndedRecords.
  void Compact();

  std::map<uint64_t, WorkerRecord> workers_;  // By join number.
  // Active sessions: a token's SHA-256 to its worker's number, and back.
  absl::flat_hash_map<std::string, uint64_t> by_session_;
  absl::flat_hash_map<uint64_t, std::string> session_of_;
  absl::flat_hash_map<std::string, int> active_by_identity_;
  std::deque<uint64_t> ended_;  // Numbers of ended records, oldest first.
  std::map<std::string, int64_t> forgotten_;
  uint64_t next_number_ = 1;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_REGISTRY_H_
