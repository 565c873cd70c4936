// tributary-faultproxy: a bad network between workers and a coordinator on
// one machine, for trying how a run copes.
//
//   tributary-faultproxy --target=127.0.0.1:7070 --listen_port=7071
//       --latency_ms=80 --bandwidth_kbps=2000 --reset_probability=0.001
//   tributary-worker --coordinator=127.0.0.1:7071
//
// Loopback only, and it exits by itself after --duration_s.
#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/signals.h"
#include "tools/faultproxy/proxy.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7070", "Where connections go: a loopback HOST:PORT");
ABSL_FLAG(int, listen_port, 0, "Port on 127.0.0.1 to accept connections on; 0 picks a free one");
ABSL_FLAG(double, latency_ms, 0, "Added to each direction of every connection");
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
  absl::SetProgramUsageMessage(
      "A fault-injecting TCP proxy on loopback.\n  tributary-faultproxy --target=127.0.0.1:7070");
  absl::ParseCommandLine(argc, argv);
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
                                    std::pair{"--bandwidth_kbps", absl::GetFlag(FLAGS_bandwidth_kbps)},
                                    std::pair{"--stall_max_ms", absl::GetFlag(FLAGS_stall_max_ms)}}) {
    if (!(value >= 0)) return Fail(absl::StrCat(name, ": must not be negative"));
  }
  for (const auto& [name, value] : {std::pair{"--stall_probability", absl::GetFlag(FLAGS_stall_probability)},
                                    std::pair{"--reset_probability", absl::GetFlag(FLAGS_reset_probability)}}) {
    if (!(value >= 0 && value <= 1)) return Fail(absl::StrCat(name, ": must be in [0, 1]"));
  }
  tributary::faultproxy::FaultOptions options;
  options.latency = absl::Milliseconds(absl::GetFlag(FLAGS_latency_ms));
  options.bytes_per_second = static_cast<int64_t>(absl::GetFlag(FLAGS_bandwidth_kbps) * 1024);
  options.stall_probability = absl::GetFlag(FLAGS_stall_probability);
  options.stall_max = absl::Milliseconds(absl::GetFlag(FLAGS_stall_max_ms));
  options.reset_probability = absl::GetFlag(FLAGS_reset_probability);
  auto proxy = tributary::faultproxy::FaultProxy::Start(absl::GetFlag(FLAGS_listen_port), target.substr(0, colon),
                                                       target_port, options, absl::GetFlag(FLAGS_seed));
  if (!proxy.ok()) return Fail(absl::StrCat("--target/--listen_port: ", proxy.status().message()));
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
