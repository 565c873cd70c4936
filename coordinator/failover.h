// Several coordinators for one job, one of them serving (docs/HA.md): the
// shell around LeaderElection that talks to etcd, serves as a standby until
// elected, and fences what a leader writes.
//
// Keys, under --etcd_prefix (default /tributary/<job name>):
//   leader      the leader's advertised address, bound to its lease; the
//               key's create revision is the leader's term
//   checkpoint  where the newest checkpoint is and its digest
//               (FormatCheckpointRecord), relative to the shared --state_dir
//   version     the newest model version any leader applied, and its term
//
// Every coordinator gets the same --state_dir, a directory all of them can
// read (a shared volume); each writes its checkpoints into its own
// subdirectory (CheckpointDir), so a deposed leader can never overwrite or
// prune the checkpoint its successor resumes from. A new leader resumes
// from the checkpoint the record names, after checking its digest, and
// numbers its first version after the newest any leader applied (versions
// its predecessor applied after its last checkpoint are lost and redone,
// under new numbers), so versions only grow across leaders.
//
// A leader that loses its lease, or whose fenced write the store refuses,
// ends the process at once (exit code kLostLeadershipExitCode) without
// writing anything: its run is behind the new leader's, and a supervisor
// starts it again as a standby.
#ifndef TRIBUTARY_COORDINATOR_FAILOVER_H_
#define TRIBUTARY_COORDINATOR_FAILOVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/checkpoint.h"
#include "common/clock.h"
#include "coordinator/election.h"
#include "coordinator/etcd_client.h"
#include "grpcpp/grpcpp.h"

namespace tributary::coordinator {

// EX_TEMPFAIL: try again (as a standby).
inline constexpr int kLostLeadershipExitCode = 75;

struct FailoverOptions {
  std::string etcd;       // --etcd: HOST:PORT[,HOST:PORT...]
  std::string prefix;     // Key prefix, without a trailing slash.
  std::string advertise;  // HOST:PORT workers reach this coordinator at.
  absl::Duration ttl = absl::Seconds(5);
  std::string state_dir;  // Shared by every coordinator of the job.
};

// The checkpoint record: where the newest checkpoint is (relative to the
// shared state directory), the SHA-256 of the whole file, its model
// version and the term of the leader that wrote it. One line of
// "key=value" pairs, so that etcdctl shows it readably.
struct CheckpointRecord {
  uint64_t version = 0;
  int64_t term = 0;
  std::string sha256_hex;
  std::string path;
};
std::string FormatCheckpointRecord(const CheckpointRecord& record);
absl::StatusOr<CheckpointRecord> ParseCheckpointRecord(absl::string_view text);

// The version record: the newest model version applied and its leader's term.
struct VersionRecord {
  uint64_t version = 0;
  int64_t term = 0;
};
std::string FormatVersionRecord(const VersionRecord& record);
absl::StatusOr<VersionRecord> ParseVersionRecord(absl::string_view text);

// A file name for this coordinator's checkpoint subdirectory: `advertise`
// with every character but [A-Za-z0-9.-] replaced by '_'.
std::string NodeDirName(absl::string_view advertise);

class Failover {
 public:
  // Connects to etcd (lazily; nothing is sent yet). INVALID_ARGUMENT for a
  // malformed --etcd.
  static absl::StatusOr<std::unique_ptr<Failover>> Create(const FailoverOptions& options);
  ~Failover();

  // Stands by until elected: answers workers on `listen` with the leader's
  // address (StandbyService) and serves /healthz ("standby") on `http`.
  // Returns true once elected, with both servers stopped so the leader's
  // can bind the same addresses; false on SIGINT/SIGTERM.
  absl::StatusOr<bool> WaitUntilElected(const std::string& listen,
                                        std::shared_ptr<grpc::ServerCredentials> credentials,
                                        const std::string& http);

  // After election: the checkpoint the record names, verified against its
  // digest; nullopt when no leader ever wrote one. DATA_LOSS when the file
  // is missing or does not match: nothing safe to resume from.
  absl::StatusOr<std::optional<LoadedCheckpoint>> CheckpointToResume();
  // After election: the newest version any leader applied (0: none).
  absl::StatusOr<uint64_t> LastAppliedVersion();

  // Starts renewing the lease on a thread of its own; the process ends
  // when leadership is lost.
  void StartRenewing();

  // The run's version fence: records `version` as applied in this term.
  // Returns only when the store took it; ends the process when the store
  // refuses it or the lease runs out first.
  void CommitVersion(uint64_t version);

  // Ends the process (as a lost lease does) unless this coordinator
  // still leads by its own clock; cheap, for the main loop.
  void ExitUnlessLeading() {
    if (!election_.Leading()) Exit("our lease ran out");
  }

  // Whether a checkpoint may be written now (this coordinator leads).
  bool MayWrite() { return election_.Leading(); }
  // Records the checkpoint just written at `path` as the one to resume
  // from; ends the process when the store refuses it.
  void RecordCheckpoint(const std::string& path, uint64_t version);

  // Gives the lease back (clean shutdown): a standby takes over at once.
  void Resign();

  // Where this coordinator writes its checkpoints.
  std::string CheckpointDir() const;
  int64_t term() const { return election_.term(); }
  const std::string& advertise() const { return options_.advertise; }

 private:
  Failover(const FailoverOptions& options, std::unique_ptr<EtcdClient> etcd);
  std::string Key(absl::string_view name) const;
  // Writes `key` = `value` fenced by this term, retrying while the store
  // is unreachable and the lease holds; ends the process otherwise.
  int64_t FencedWriteOrExit(absl::string_view key, absl::string_view value);
  [[noreturn]] void Exit(absl::string_view why);

  const FailoverOptions options_;
  std::unique_ptr<EtcdClient> etcd_;
  MonotonicClock clock_;
  LeaderElection election_;
  std::atomic<bool> stop_{false};
  std::thread renewer_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_FAILOVER_H_
