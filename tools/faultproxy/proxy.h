// A fault-injection TCP proxy on loopback: it accepts connections on a
// 127.0.0.0/8 port, connects each to a target, and forwards bytes both ways
// through a bad network of its own making: added latency and jitter, a
// bandwidth cap, stalls, and abrupt connection resets (RST, as a dropped
// home router or a killed NAT entry would leave them). The kernel's netem
// is not available everywhere; this is how tests see a bad network.
//
// Its traffic goes only where the test or script that runs it made the
// network itself: the target is a loopback address (127.0.0.0/8) unless the
// caller names further networks it created, such as the veth subnet of
// deploy/netns-cluster.sh, and those must lie in private address space
// (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16). It never forwards to the
// internet.
//
// Every fault is bounded in time: latency and stalls are capped, and the
// proxy stops (closing everything) when destroyed. Faults are drawn from a
// seeded RNG, and may be changed while connections are open.
//
// One thread accepts; one thread per connection pumps both directions with
// non-blocking sockets and poll(2), holding bytes in a queue until their
// due time.
#ifndef TRIBUTARY_TOOLS_FAULTPROXY_PROXY_H_
#define TRIBUTARY_TOOLS_FAULTPROXY_PROXY_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tributary::faultproxy {

struct FaultOptions {
  // Added to every byte's trip, each direction.
  absl::Duration latency = absl::ZeroDuration();
  // Each chunk read waits a further draw from [0, jitter), but never
  // overtakes the chunk read before it in its direction (see ChunkDue).
  absl::Duration jitter = absl::ZeroDuration();
  // Per direction of each connection; 0 = unlimited.
  int64_t bytes_per_second = 0;
  // After each read, the chance that its direction stops forwarding for a
  // time drawn uniformly from [0, stall_max].
  double stall_probability = 0;
  absl::Duration stall_max = absl::ZeroDuration();
  // After each read, the chance that the connection is reset (RST to both ends).
  double reset_probability = 0;
};

// Caps that keep every fault bounded whatever the options say.
inline constexpr absl::Duration kMaxLatency = absl::Seconds(5);
inline constexpr absl::Duration kMaxJitter = absl::Seconds(5);
inline constexpr absl::Duration kMaxStall = absl::Seconds(60);

struct ProxyStats {
  int64_t connections = 0;  // Accepted.
  int64_t open = 0;         // Still open.
  int64_t bytes = 0;        // Forwarded, both directions.
  int64_t stalls = 0;
  int64_t resets = 0;       // Drawn or asked for with ResetAll.
};

// When a chunk read at `now` may be forwarded: after the latency plus
// `jitter_draw` (in [0, 1)) times the jitter, both capped; not before the
// bandwidth cap frees its direction (`next_free`); and not before the chunk
// read ahead of it in the same direction (`previous_due`). So jitter varies
// delays without ever reordering a direction's bytes, and the result never
// decreases from chunk to chunk.
absl::Time ChunkDue(absl::Time now, absl::Time previous_due, absl::Time next_free, const FaultOptions& options,
                    double jitter_draw);

// An IPv4 network in CIDR notation, such as 10.77.0.0/24.
struct Ipv4Network {
  uint32_t address = 0;  // Host byte order; host bits zero.
  int prefix_length = 32;

  // "A.B.C.D/N" with N in [0, 32] and no host bits set; an error names the
  // text and what is wrong with it.
  static absl::StatusOr<Ipv4Network> Parse(absl::string_view cidr);
  bool Contains(uint32_t address_host_order) const;
  // Whether the whole network lies in 10.0.0.0/8, 172.16.0.0/12 or
  // 192.168.0.0/16 (RFC 1918).
  bool IsPrivate() const;
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1:`listen_port` (0 picks a free port) and forwards
  // to `target_host`:`target_port`, an IPv4 address (or "localhost") that
  // must be a loopback address or lie in one of `allowed_networks`, each of
  // which must be private (Ipv4Network::IsPrivate). INVALID_ARGUMENT when
  // they are not.
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(int listen_port, const std::string& target_host,
                                                           int target_port, const FaultOptions& options,
                                                           uint64_t seed,
                                                           const std::vector<Ipv4Network>& allowed_networks = {});
  // Closes every connection and joins every thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }

  // Applies to open connections too.
  void SetOptions(const FaultOptions& options);
  // Resets every open connection now.
  void ResetAll();
  ProxyStats stats() const;

 private:
  class Connection;

  FaultProxy(int listen_fd, int port, uint32_t target_address, int target_port, const FaultOptions& options,
             uint64_t seed);
  void AcceptLoop();
  // A connected socket to the target, or -1.
  int ConnectToTarget() const;
  FaultOptions options();
  // A draw in [0, 1) from the shared RNG.
  double UniformLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int listen_fd_;
  const int port_;
  const uint32_t target_address_;  // Network byte order.
  const int target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> reset_generation_{0};

  mutable absl::Mutex mu_;
  FaultOptions options_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  ProxyStats stats_ ABSL_GUARDED_BY(mu_);
  std::list<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread accept_thread_;
};

}  // namespace tributary::faultproxy

#endif  // TRIBUTARY_TOOLS_FAULTPROXY_PROXY_H_
