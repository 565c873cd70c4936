// tributary-worker: joins a coordinator and trains until the job is done.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/address_list.h"
#include "common/file.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/usage.h"
#include "worker/blob_api.h"
#include "worker/client.h"
#include "worker/display.h"
#include "worker/failover_client.h"
#include "worker/http_blob_source.h"
#include "worker/timer.h"
#include "worker/tls.h"
#include "worker/worker.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070",
          "Coordinator gRPC address (HOST:PORT), or several coordinators of one job (HOST:PORT,HOST:PORT,...): the "
          "worker finds the one that leads (docs/HA.md)");
ABSL_FLAG(std::string, device, "cpu", "Compute device: cpu");
ABSL_FLAG(int, threads, 0, "Compute threads (0 = all cores)");
ABSL_FLAG(std::string, name, "", "Name shown on the dashboard (default: the host name)");
ABSL_FLAG(std::string, tls_ca, "",
          "CA certificate (PEM) that signed the coordinator's: connect with TLS and verify it; empty = plaintext");
ABSL_FLAG(std::string, tls_cert, "", "This worker's certificate (PEM), for a coordinator that asks for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls_cert");
ABSL_FLAG(std::string, join_token_file, "", "File holding the coordinator's join token");
ABSL_FLAG(std::string, cache_dir, "",
          "Directory caching shards and recent model versions by content hash, for restarts (empty: memory only)");
ABSL_FLAG(std::string, blob_url, "",
          "Fetch models, deltas and shards first over HTTP by SHA-256 from this base URL (GET URL/blobs/<sha256>): "
          "the coordinator's status port or a cache in front of it (deploy/nginx/), e.g. http://relay:8081. Every "
          "byte is checked against the digest given over gRPC; on any failure the worker falls back to gRPC. "
          "Empty: gRPC only");
ABSL_FLAG(int64_t, max_tasks, 0, "Leave cleanly after this many tasks (0 = until the job ends)");
ABSL_FLAG(bool, quiet, false,
          "Print only warnings, errors and the summary at the end (no status line, no line per task)");
ABSL_FLAG(bool, verbose, false,
          "Also log a line per task on a terminal (under the status line), every retry, and each download");
ABSL_FLAG(absl::Duration, test_task_delay, absl::ZeroDuration(),
          "Testing only: hold each task this long before submitting (a slow device)");
ABSL_FLAG(double, test_slowdown, 1,
          "Testing only: run F times slower than this machine (after computing a task, wait F - 1 times as long "
          "as it took, its CPU time when that is less), for experiments with workers of different speeds; "
          "1 = full speed");
ABSL_FLAG(std::string, test_attack, "",
          "Testing only: corrupt every update like a Byzantine worker (sign_flip, scale100, alie or alie:Z)");

namespace tributary::worker {
namespace {

absl::StatusOr<WorkerOptions> OptionsFromFlags() {
  WorkerOptions options;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  if (absl::StatusOr<std::vector<std::string>> addresses = SplitAddressList(options.coordinator);
      !addresses.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--coordinator: ", addresses.status().message()));
  }
  options.device = absl::GetFlag(FLAGS_device);
  if (options.device != "cpu") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--device: \"", options.device, "\" is not available in this build (supported: cpu)"));
  }
  options.threads = absl::GetFlag(FLAGS_threads);
  if (options.threads < 0) return absl::InvalidArgumentError("--threads: must not be negative");
  if (options.threads == 0) options.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  options.name = absl::GetFlag(FLAGS_name);
  if (options.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.name = absl::StrCat(host, "-", getpid());
  }
  if (const std::string path = absl::GetFlag(FLAGS_join_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = ReadFile(path);
    if (!token.ok()) return absl::InvalidArgumentError(absl::StrCat("--join_token_file: ", token.status().message()));
    options.join_token = std::string(absl::StripTrailingAsciiWhitespace(*token));
  }
  options.cache_dir = absl::GetFlag(FLAGS_cache_dir);
  options.max_tasks = absl::GetFlag(FLAGS_max_tasks);
  if (options.max_tasks < 0) return absl::InvalidArgumentError("--max_tasks: must not be negative");
  options.task_delay = absl::GetFlag(FLAGS_test_task_delay);
  options.slowdown = absl::GetFlag(FLAGS_test_slowdown);
  if (!(options.slowdown >= 1 && options.slowdown <= 1000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--test_slowdown: must be in [1, 1000] (times slower), got ", options.slowdown));
  }
  absl::StatusOr<Attack> attack = ParseAttack(absl::GetFlag(FLAGS_test_attack));
  if (!attack.ok()) return absl::InvalidArgumentError(absl::StrCat("--test_attack: ", attack.status().message()));
  options.attack = *attack;
  options.seed = std::random_device{}();
  return options;
}

absl::StatusOr<DisplayOptions> DisplayFromFlags() {
  const bool quiet = absl::GetFlag(FLAGS_quiet), verbose = absl::GetFlag(FLAGS_verbose);
  if (quiet && verbose) return absl::InvalidArgumentError("--quiet and --verbose: pick one");
  DisplayOptions display;
  display.mode = ChooseDisplayMode(isatty(STDERR_FILENO), std::getenv("TERM"), quiet);
  display.verbose = verbose;
  return display;
}

// nullopt without --blob_url.
absl::StatusOr<std::optional<BlobUrl>> BlobUrlFromFlags() {
  const std::string url = absl::GetFlag(FLAGS_blob_url);
  if (url.empty()) return std::nullopt;
  absl::StatusOr<BlobUrl> parsed = ParseBlobUrl(url);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("--blob_url: ", parsed.status().message()));
  return std::optional<BlobUrl>(*std::move(parsed));
}

// Plaintext only without --tls_ca, and then said once.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFromFlags() {
  ClientTlsOptions tls;
  tls.ca_path = absl::GetFlag(FLAGS_tls_ca);
  tls.cert_path = absl::GetFlag(FLAGS_tls_cert);
  tls.key_path = absl::GetFlag(FLAGS_tls_key);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = ChannelCredentialsFromFiles(tls);
  if (credentials.ok() && !tls.enabled()) {
    TLOG(WARNING) << "connecting without TLS (plaintext, no --tls_ca): anyone on the path can read and alter "
                     "the traffic";
  }
  return credentials;
}

}  // namespace
}  // namespace tributary::worker

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv,
                        "Joins a Tributary coordinator and trains.\n  tributary-worker --coordinator=HOST:PORT");
  tributary::BlockTerminationSignals();

  absl::StatusOr<tributary::worker::WorkerOptions> options = tributary::worker::OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "tributary-worker: %s\n", std::string(options.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<tributary::worker::DisplayOptions> display_options = tributary::worker::DisplayFromFlags();
  if (!display_options.ok()) {
    std::fprintf(stderr, "tributary-worker: %s\n", std::string(display_options.status().message()).c_str());
    return 1;
  }
  if (display_options->mode == tributary::worker::DisplayMode::kQuiet) {
    tributary::SetMinLogLevel(tributary::LogLevel::kNotice);
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      tributary::worker::CredentialsFromFlags();
  if (!credentials.ok()) {
    std::fprintf(stderr, "tributary-worker: %s\n", std::string(credentials.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::optional<tributary::worker::BlobUrl>> blob_url = tributary::worker::BlobUrlFromFlags();
  if (!blob_url.ok()) {
    std::fprintf(stderr, "tributary-worker: %s\n", std::string(blob_url.status().message()).c_str());
    return 1;
  }
  // One connection per coordinator address, made when first used; calls
  // follow the leader (failover_client.h).
  tributary::worker::FailoverClient client(
      *tributary::SplitAddressList(options->coordinator), [&credentials](const std::string& address) {
        return std::make_unique<tributary::worker::CoordinatorClient>(address, *credentials);
      });
  std::optional<tributary::worker::HttpBlobSource> blob_source;
  std::optional<tributary::worker::BlobFirstApi> blob_first;
  if (*blob_url) {
    blob_source.emplace(**blob_url);
    blob_first.emplace(client, *blob_source);
    TLOG(INFO) << "fetching blobs from " << (*blob_url)->ToString() << "/blobs/ first, gRPC as the fallback";
  }
  tributary::worker::CoordinatorApi& api = blob_first ? static_cast<tributary::worker::CoordinatorApi&>(*blob_first)
                                                      : client;
  tributary::worker::Display display(*display_options);
  display.Start();
  tributary::worker::RealTimer timer;
  tributary::worker::Worker worker(*options, api, timer, display);

  std::atomic<bool> finished{false};
  absl::Status result;
  std::thread runner([&] {
    result = worker.Run();
    finished = true;
  });
  while (!finished) {
    if (const int sig = tributary::WaitForTerminationSignal(absl::Milliseconds(100))) {
      TLOG(INFO) << "signal " << sig << ": leaving";
      worker.Stop();
    }
  }
  runner.join();
  if (blob_first) TLOG(NOTICE) << "blob fetches over HTTP: " << blob_first->stats().Line();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  TLOG(INFO) << "exiting; peak RSS " << usage.ru_maxrss / 1024 << " MiB";
  if (!result.ok()) {
    std::fprintf(stderr, "tributary-worker: %s\n", std::string(result.message()).c_str());
    return 1;
  }
  return 0;
}
