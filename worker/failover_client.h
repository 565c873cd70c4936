// CoordinatorApi over several coordinators of one job, one of which leads
// (docs/HA.md): `--coordinator=a:7070,b:7070,c:7070`. Calls go to the
// coordinator believed to lead. When it answers UNAVAILABLE (or does not
// answer in time: a frozen leader's connection stays up), the worker
// moves: to the leader a standby named in its answer (LeaderHint), else to
// the next address of the list; when the one believed to lead cannot be
// reached, WaitForConnection moves on to the next address too. The moved
// call is not retried here: it fails, and the worker's loop retries it
// (with backoff) on the new coordinator, joining again there if the
// session is unknown (UNAUTHENTICATED).
//
// One connection per address, made when first used and kept. Thread-safe.
#ifndef TRIBUTARY_WORKER_FAILOVER_CLIENT_H_
#define TRIBUTARY_WORKER_FAILOVER_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "worker/coordinator_api.h"

namespace tributary::worker {

class FailoverClient : public CoordinatorApi {
 public:
  using Connect = std::function<std::unique_ptr<CoordinatorApi>(const std::string& address)>;
  // `addresses` must not be empty; `connect` makes the client of one.
  FailoverClient(std::vector<std::string> addresses, Connect connect);

  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest& request) override;
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t current_task,
                                                            absl::Span<const uint64_t> held) override;
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t> keep) override;
  absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string& sha256, uint64_t bytes) override;
  absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from_version,
                                              uint64_t max_bytes) override;
  absl::StatusOr<std::string> FetchShard(uint64_t shard_id, const std::string& sha256, uint64_t bytes) override;
  absl::StatusOr<BlobRef> DescribeModel(uint64_t version) override;
  absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t version, uint64_t from_version) override;
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(const tributary::v1::UpdateHeader& header,
                                                                   const std::string& payload,
                                                                   absl::Duration* upload,
                                                                   const UploadProgress& progress) override;
  absl::Status Leave() override;
  bool WaitForConnection(absl::Duration timeout) override;

  // The address calls go to now.
  std::string current() const;

 private:
  // The client calls go to now, and its address.
  CoordinatorApi& Current(std::string* address);
  // Runs `call` on the current coordinator and moves on when it answers
  // UNAVAILABLE.
  template <typename Call>
  auto Route(const Call& call) -> decltype(call(std::declval<CoordinatorApi&>()));
  // Calls go to `address` from now on (unless they already moved away
  // from `from`, the address the failed call went to).
  void MoveTo(const std::string& from, const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  void MoveToNext(const std::string& from) ABSL_LOCKS_EXCLUDED(mu_);

  const std::vector<std::string> addresses_;
  const Connect connect_;
  mutable absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);
  // Never erased, so a reference handed out stays valid.
  std::map<std::string, std::unique_ptr<CoordinatorApi>> clients_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_FAILOVER_CLIENT_H_
