// ElectionStore over etcd's v3 gRPC API (proto/etcd/etcdserverpb/rpc.proto),
// plus the plain reads the coordinator's failover needs. Each call has a
// deadline; a call that fails with UNAVAILABLE or DEADLINE_EXCEEDED moves
// on to the next endpoint, so a cluster of several etcd members is used as
// etcd's own clients use it. Plaintext (etcd on the coordinators' private
// network or 127.0.0.1). Thread-safe.
#ifndef TRIBUTARY_COORDINATOR_ETCD_CLIENT_H_
#define TRIBUTARY_COORDINATOR_ETCD_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/election.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace tributary::coordinator {

class EtcdClient : public ElectionStore {
 public:
  // `endpoints`: one or more HOST:PORT, as --etcd gives them (comma
  // separated). INVALID_ARGUMENT naming the bad one otherwise.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(absl::string_view endpoints,
                                                            absl::Duration call_timeout = absl::Seconds(2));

  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override;
  absl::StatusOr<absl::Duration> KeepAlive(int64_t lease) override;
  absl::Status RevokeLease(int64_t lease) override;
  absl::StatusOr<StoredKey> CreateIfAbsent(absl::string_view key, absl::string_view value, int64_t lease) override;
  absl::StatusOr<std::optional<StoredKey>> Get(absl::string_view key) override;
  absl::StatusOr<int64_t> PutIfHeld(absl::string_view guard, int64_t guard_revision, absl::string_view key,
                                    absl::string_view value) override;

 private:
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  };
  EtcdClient(std::vector<Endpoint> endpoints, absl::Duration call_timeout);

  // Runs `call` on the current endpoint, then on each other one while it
  // fails for want of an answer. `call` gets the endpoint and a fresh
  // context with the deadline.
  template <typename Call>
  grpc::Status Run(absl::string_view what, const Call& call);

  std::vector<Endpoint> endpoints_;
  const absl::Duration call_timeout_;
  absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_ETCD_CLIENT_H_
