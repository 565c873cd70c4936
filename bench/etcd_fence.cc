// What the coordinators' failover costs the applier: one fenced etcd
// transaction per applied model version (coordinator/failover.h). Takes
// the leadership of a scratch key on the etcd at --etcd, then times
// --writes fenced writes of a version record one after another, as the
// applier makes them, and prints their latency percentiles and rate.
// bench/etcd_fence.sh starts a throwaway etcd on 127.0.0.1 for it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/usage.h"
#include "coordinator/election.h"
#include "coordinator/etcd_client.h"
#include "coordinator/failover.h"

ABSL_FLAG(std::string, etcd, "127.0.0.1:2379", "etcd endpoint (HOST:PORT)");
ABSL_FLAG(int, writes, 2000, "Fenced writes to time");

namespace tributary::coordinator {
namespace {

int Main() {
  absl::StatusOr<std::unique_ptr<EtcdClient>> etcd = EtcdClient::Create(absl::GetFlag(FLAGS_etcd));
  if (!etcd.ok()) {
    std::fprintf(stderr, "--etcd: %s\n", std::string(etcd.status().message()).c_str());
    return 1;
  }
  MonotonicClock clock;
  const std::string prefix = absl::StrCat("/tributary-bench/", absl::ToUnixNanos(absl::Now()));
  LeaderElection election(**etcd, clock, ElectionOptions{prefix + "/leader", "bench:1", absl::Seconds(10)});
  if (election.Step() != Role::kLeader) {
    std::fprintf(stderr, "could not take %s/leader\n", prefix.c_str());
    return 1;
  }
  const int writes = absl::GetFlag(FLAGS_writes);
  std::vector<double> ms;
  ms.reserve(writes);
  const absl::Time start = absl::Now();
  for (int i = 1; i <= writes; ++i) {
    election.Step();  // Renews as the failover's thread would.
    const absl::Time t0 = absl::Now();
    absl::StatusOr<int64_t> revision =
        election.Fence(prefix + "/version", FormatVersionRecord({static_cast<uint64_t>(i), election.term()}));
    if (!revision.ok()) {
      std::fprintf(stderr, "write %d: %s\n", i, std::string(revision.status().message()).c_str());
      return 1;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  election.Resign();
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  std::printf("fenced version writes: %d in %.2f s = %.0f/s; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
              "max %.2f ms\n",
              writes, seconds, writes / seconds, at(0.5), at(0.9), at(0.99), ms.back());
  return 0;
}

}  // namespace
}  // namespace tributary::coordinator

int main(int argc, char** argv) {
  tributary::ParseFlags(
      argc, argv, "Times fenced etcd writes as the failover's applier makes them.\n  etcd_fence --etcd=HOST:PORT");
  return tributary::coordinator::Main();
}
