// tributary-faultproxy: a bad network between workers and a coordinator on
// one machine, for trying how a run copes.
//
//   tributary-faultproxy --target=127.0.0.1:7070 --listen_port=7071
//       --latency_ms=80 --jitter_ms=20 --bandwidth_kbps=2000 --reset_probability=0.001
//   tributary-worker --coordinator=127.0.0.1:7071
//
// It listens on 127.0.0.1 and forwards to a loopback target only, unless
// --allow_target_cidr names a private network the caller made itself (as
// deploy/netns-cluster.sh does with its veth subnet). It exits by itself
// after --duration_s.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/usage.h"
#include "tools/faultproxy/proxy.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7070",
          "Where connections go: HOST:PORT, HOST a loopback address or in --allow_target_cidr");
ABSL_FLAG(std::vector<std::string>, allow_target_cidr, {},
          "Private IPv4 networks (comma-separated A.B.C.D/N, inside 10/8, 172.16/12 or 192.168/16) that "
          "--target may lie in besides loopback; only for networks the caller made itself, such as a "
          "network namespace's veth subnet");
ABSL_FLAG(int, listen_port, 0, "Port on 127.0.0.1 to accept connections on; 0 picks a free one");
ABSL_FLAG(double, latency_ms, 0, "Added to each direction of every connection");
ABSL_FLAG(double, jitter_ms, 0,
          "Each chunk read waits a further uniform draw from [0, jitter_ms); a direction never reorders");
ABSL_FLAG(double, bandwidth_kbps, 0, "Cap per direction of each connection, in KiB/s; 0 = none");
ABSL_FLAG(double, stall_probability, 0, "Chance per read that its direction stalls");
ABSL_FLAG(double, stall_max_ms, 1000, "Longest stall (capped at 60 s)");
ABSL_FLAG(double, reset_probability, 0, "Chance per read that the connection is reset");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the fault draws");
ABSL_FLAG(int, duration_s, 600, "Exit after this many seconds (1 to 86400)");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "tributary-faultproxy: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv,
                        "A fault-injecting TCP proxy on loopback.\n  tributary-faultproxy --target=127.0.0.1:7070 "
                        "[--allow_target_cidr=10.77.0.0/24 --target=10.77.0.2:7070]");
  tributary::BlockTerminationSignals();
  const std::string target = absl::GetFlag(FLAGS_target);
  const size_t colon = target.rfind(':');
  int target_port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(target.substr(colon + 1), &target_port)) {
    return Fail(absl::StrCat("--target: \"", target, "\" is not HOST:PORT"));
  }
  const int duration_s = absl::GetFlag(FLAGS_duration_s);
  if (duration_s < 1 || duration_s > 86400) return Fail("--duration_s: must be in [1, 86400]");
  for (const auto& [name, value] : {std::pair{"--latency_ms", absl::GetFlag(FLAGS_latency_ms)},
                                    std::pair{"--jitter_ms", absl::GetFlag(FLAGS_jitter_ms)},
                                    std::pair{"--bandwidth_kbps", absl::GetFlag(FLAGS_bandwidth_kbps)},
                                    std::pair{"--stall_max_ms", absl::GetFlag(FLAGS_stall_max_ms)}}) {
    if (!(value >= 0)) return Fail(absl::StrCat(name, ": must not be negative"));
  }
  for (const auto& [name, value] : {std::pair{"--stall_probability", absl::GetFlag(FLAGS_stall_probability)},
                                    std::pair{"--reset_probability", absl::GetFlag(FLAGS_reset_probability)}}) {
    if (!(value >= 0 && value <= 1)) return Fail(absl::StrCat(name, ": must be in [0, 1]"));
  }
  std::vector<tributary::faultproxy::Ipv4Network> allowed_networks;
  for (const std::string& cidr : absl::GetFlag(FLAGS_allow_target_cidr)) {
    absl::StatusOr<tributary::faultproxy::Ipv4Network> network = tributary::faultproxy::Ipv4Network::Parse(cidr);
    if (!network.ok()) return Fail(absl::StrCat("--allow_target_cidr: ", network.status().message()));
    allowed_networks.push_back(*network);
  }
  tributary::faultproxy::FaultOptions options;
  options.latency = absl::Milliseconds(absl::GetFlag(FLAGS_latency_ms));
  options.jitter = absl::Milliseconds(absl::GetFlag(FLAGS_jitter_ms));
  options.bytes_per_second = static_cast<int64_t>(absl::GetFlag(FLAGS_bandwidth_kbps) * 1024);
  options.stall_probability = absl::GetFlag(FLAGS_stall_probability);
  options.stall_max = absl::Milliseconds(absl::GetFlag(FLAGS_stall_max_ms));
  options.reset_probability = absl::GetFlag(FLAGS_reset_probability);
  auto proxy = tributary::faultproxy::FaultProxy::Start(absl::GetFlag(FLAGS_listen_port), target.substr(0, colon),
                                                       target_port, options, absl::GetFlag(FLAGS_seed),
                                                       allowed_networks);
  if (!proxy.ok()) {
    return Fail(absl::StrCat("--target/--listen_port/--allow_target_cidr: ", proxy.status().message()));
  }
  TLOG(INFO) << "forwarding 127.0.0.1:" << (*proxy)->port() << " -> " << target << " for " << duration_s << " s";
  const absl::Time end = absl::Now() + absl::Seconds(duration_s);
  while (absl::Now() < end) {
    if (tributary::WaitForTerminationSignal(absl::Seconds(1))) break;
  }
  const tributary::faultproxy::ProxyStats stats = (*proxy)->stats();
  TLOG(INFO) << "done: " << stats.connections << " connections, " << stats.bytes << " bytes, " << stats.stalls
             << " stalls, " << stats.resets << " resets";
  return 0;
}
