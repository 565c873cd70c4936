// Convergence harness: does asynchronous or compressed training learn as
// well as what it replaces (synchronous rounds, one worker, fp32
// gradients), for the same samples, and how soon in wall time? Runs real
// clusters on 127.0.0.1 (a coordinator and N worker processes) on one job,
// its budget each (--epochs gives the runs after the baseline more, to see
// how many samples they need to catch up), reads eval loss against samples
// and time from /api/history and the bytes each way from /api/status, and
// writes a CSV, an SVG plot and a Markdown table. Takes minutes; not part
// of ctest.
//
//   build/bin/convergence [--job=bench/convergence.textproto] [--out=docs/convergence]
//                         [--runs=single,async4,async8,fedbuff8,diloco8,diloco8-dn] [--epochs=2]
//   build/bin/convergence --out=docs/compression
//       --runs=single,int8,powersgd4,topk1-int8,diloco1,diloco1-topk5-int8,diloco1-powersgd4
//   build/bin/convergence --baseline_epochs=2 --epochs=2 --out=docs/sync
//       --all_changes='data { shuffle_examples: true }'
//       --runs=sync8,fedbuff8-sync,async8,single128,sync8-diloco,diloco8-dn-h8,diloco8-avg,...
//   build/bin/convergence --baseline_epochs=2 --epochs=4 --out=docs/heterogeneous
//       --all_changes='data { shuffle_examples: true }' --runs=sync8-diloco-het,diloco8-avg-het,diloco8-dn-het
//
// Heterogeneous runs (names ending in -het) slow their workers down with
// the worker's --test_slowdown: relative speeds 1x to 4x, every worker at
// least 2x slower than the machine so that the eight of them fit on two
// cores (each computes 1/F of the time and waits the rest, the task's
// idle-machine time taken from its CPU time so that workers computing at
// the same moment on the shared cores are not slowed twice:
// worker/slowdown.h), and --churn
// makes workers leave (SIGTERM: a clean leave) and come back as new
// processes. Their wall time is measured, not simulated.
//
// Each run's files (job, logs) are kept under --work_dir.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/job_spec.h"
#include "common/usage.h"
#include "google/protobuf/text_format.h"
#include "tests/e2e/harness.h"

ABSL_FLAG(std::string, job, "bench/convergence.textproto", "Base job spec of every run");
ABSL_FLAG(std::string, out, "docs/convergence", "Writes OUT.csv, OUT.svg and OUT.md");
ABSL_FLAG(std::string, runs, "single,async4,async8,fedbuff8,diloco8,diloco8-dn",
          "Runs, in order; the first is the baseline");
ABSL_FLAG(std::string, work_dir, "/tmp/tributary-convergence", "Job files and logs of each run");
ABSL_FLAG(int, timeout_min, 20, "Gives up on a run after this many minutes");
ABSL_FLAG(std::string, churn, "3:30:60",
          "Heterogeneous runs: WORKER:LEAVE_S:REJOIN_S[,...], worker WORKER leaves LEAVE_S seconds into the run "
          "and a new process of the same name joins at REJOIN_S; empty = nobody leaves");
ABSL_FLAG(std::string, bytes_reference, "",
          "The run whose bytes per sample the table divides by (default: the first run)");
ABSL_FLAG(std::string, all_changes, "",
          "Text-format JobSpec merged into every run's job after its own changes, e.g. "
          "'data { shuffle_examples: true }'");
ABSL_FLAG(int, baseline_epochs, 0, "Epochs of the first run; 0 = the job's budget");
ABSL_FLAG(int, epochs, 0,
          "Epochs of every run after the first (the baseline keeps the job's budget), to see how many samples a "
          "run needs to catch up; 0 = the job's budget");

namespace tributary {
namespace {

using nlohmann::json;
using testing::Binary;
using testing::Process;

// One configuration: how many workers, and what it changes in the job.
struct RunConfig {
  std::string name;
  std::string description;
  int workers = 1;
  int threads_per_worker = 1;
  std::string job_changes;  // Text-format JobSpec merged into the base job.
  // Worker i runs slowdowns[i] times slower (--test_slowdown); empty: all
  // at full speed. Heterogeneous runs also follow --churn.
  std::vector<double> slowdowns = {};
};

// Eight workers of relative speeds 1x to 4x, evenly spread, each at least
// 2x slower than the machine: the sum of their duty cycles (1/F) is 1.95,
// under the two cores all processes share.
const std::vector<double> kHeterogeneous = {2, 2 + 6.0 / 7, 2 + 12.0 / 7, 2 + 18.0 / 7,
                                            2 + 24.0 / 7, 2 + 30.0 / 7, 2 + 36.0 / 7, 8};

// Synchronous rounds of 8 tasks (one per worker), each from the round's
// version, applied when all 8 are in.
constexpr char kSync8[] = "aggregation { mode: SYNC buffer_size: 8 }";
// Data-parallel at 8 x 16 sequences a step: AdamW at lr 6e-3, warmup 13.
constexpr char kBatch128[] = "optimizer { lr: 0.006 warmup_steps: 13 }";
// DiLoCo with H local steps of 16 sequences (a shard of 16 H): inner
// AdamW, outer SGD-Nesterov at lr 0.7 with momentum 0.5 (the paper's 0.9
// suits its H = 500; at H = 4 to 8 it overshoots: tests/e2e/training_test.cc).
// The inner warmup counts every worker's steps (coordinator/run.h): 800 is
// 100 steps of each of 8 workers, as in a DiLoCo worker's own count.
std::string Diloco(int h, int warmup = 800) {
  return absl::StrFormat(R"(
  data { shard_examples: %d }
  local_steps: %d
  inner_optimizer { kind: ADAMW lr: 0.003 warmup_steps: %d clip_norm: 1 weight_decay: 0.1 }
  optimizer { kind: SGD lr: 0.7 momentum: 0.5 nesterov: true schedule: CONSTANT warmup_steps: 0 clip_norm: 0 weight_decay: 0 }
  aggregation { weighting: CONSTANT })",
                         16 * h, h, warmup);
}
// Liu et al. 2024's delayed Nesterov for one update per version: the
// momentum moves every 8 updates, each applied at lr / 8 meanwhile.
constexpr char kDelayedNesterov[] = " optimizer { momentum_period: 8 } aggregation { max_staleness: 64 }";
// Downloads as int8 differences from the version a worker holds.
constexpr char kDeltas[] = " codec { model_deltas: true }";
// An outer SGD without momentum: lr 1 adds every pseudo-gradient up (one
// worker: the inner optimizer alone), lr 1/N averages N workers' progress.
std::string PlainOuterSgd(double lr) {
  return absl::StrFormat(" optimizer { lr: %g momentum: 0 nesterov: false }", lr);
}

// DiLoCo: 20 inner AdamW steps of 16 sequences per task (a shard of 320),
// outer SGD-Nesterov at the paper's lr 0.7 / momentum 0.9.
constexpr char kDiloco[] = R"(
  data { shard_examples: 320 }
  local_steps: 20
  inner_optimizer { kind: ADAMW lr: 0.003 warmup_steps: 100 clip_norm: 1 weight_decay: 0.1 }
  optimizer { kind: SGD lr: 0.7 momentum: 0.9 nesterov: true schedule: CONSTANT warmup_steps: 0 clip_norm: 0 weight_decay: 0 }
  eval { interval_versions: 5 })";

const std::vector<RunConfig>& AllConfigs() {
  static const auto* configs = new std::vector<RunConfig>{
      {"single", "1 worker (2 threads), a gradient per task", 1, 2, ""},
      {"async4", "4 async workers, gradients applied on arrival", 4, 1, ""},
      {"async8", "8 async workers, gradients applied on arrival", 8, 1, ""},
      {"fedbuff8", "8 async workers, buffer of 8 (FedBuff), lr 6e-3", 8, 1,
       "aggregation { buffer_size: 8 } optimizer { lr: 0.006 warmup_steps: 13 } eval { interval_versions: 13 }"},
      {"diloco8", "8 async workers, DiLoCo H=20, outer Nesterov", 8, 1, kDiloco},
      {"diloco8-dn", "8 async workers, DiLoCo H=20, delayed Nesterov (period 8)", 8, 1,
       absl::StrCat(kDiloco, " optimizer { momentum_period: 8 }")},
      // Compression: one worker, so that only the codec differs from single.
      {"int8", "1 worker, gradients in int8 (blocks of 256)", 1, 2, "codec { name: 'int8' }"},
      {"powersgd4", "1 worker, gradients as PowerSGD rank 4, fp16 factors", 1, 2,
       "codec { name: 'powersgd' rank: 4 values: FP16 }"},
      {"topk1-int8", "1 worker, top 1 % of each gradient, int8 values", 1, 2,
       "codec { name: 'topk' topk_fraction: 0.01 values: INT8 }"},
      {"powersgd4-int8", "1 worker, gradients as PowerSGD rank 4, int8 factors", 1, 2,
       "codec { name: 'powersgd' rank: 4 values: INT8 block_size: 64 }"},
      {"diloco1", "1 worker, DiLoCo H=20, fp32", 1, 2, kDiloco},
      // Why DiLoCo with one worker costs what it does (--runs=single,diloco1,...).
      {"diloco1-identity", "1 worker, DiLoCo H=20, outer SGD lr 1, no momentum (= AdamW alone)", 1, 2,
       absl::StrCat(kDiloco, PlainOuterSgd(1))},
      {"diloco1-lookahead", "1 worker, DiLoCo H=20, outer SGD lr 0.5, no momentum (Lookahead)", 1, 2,
       absl::StrCat(kDiloco, PlainOuterSgd(0.5))},
      {"diloco1-m05", "1 worker, DiLoCo H=20, outer Nesterov lr 0.7, momentum 0.5", 1, 2,
       absl::StrCat(kDiloco, " optimizer { momentum: 0.5 }")},
      {"diloco1-int8", "1 worker, DiLoCo H=20, int8 (blocks of 256)", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'int8' }")},
      {"diloco1-topk5-int8", "1 worker, DiLoCo H=20, top 5 %, int8 values", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'topk' topk_fraction: 0.05 values: INT8 }")},
      {"diloco1-powersgd4", "1 worker, DiLoCo H=20, PowerSGD rank 4, fp16 factors", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'powersgd' rank: 4 values: FP16 }")},
      // Synchronous against asynchronous (run with --baseline_epochs=2 --epochs=2).
      {"sync8", "8 workers, synchronous rounds of 8 gradients (data-parallel), lr 6e-3", 8, 1,
       absl::StrCat(kSync8, kBatch128, " eval { interval_versions: 25 }")},
      {"fedbuff8-sync", "8 async workers, buffer of 8 (FedBuff), lr 6e-3", 8, 1,
       absl::StrCat("aggregation { buffer_size: 8 } ", kBatch128, " eval { interval_versions: 25 }")},
      {"single128", "1 worker (2 threads), gradients of 128 sequences, lr 6e-3", 1, 2,
       absl::StrCat("data { shard_examples: 128 } ", kBatch128, " eval { interval_versions: 25 }")},
      {"sync8-diloco", "8 workers, synchronous DiLoCo H=8", 8, 1,
       absl::StrCat(Diloco(8), kSync8, " eval { interval_versions: 4 }")},
      {"diloco8-dn-h8", "8 async workers, DiLoCo H=8, delayed Nesterov (period 8)", 8, 1,
       absl::StrCat(Diloco(8), kDelayedNesterov, " eval { interval_versions: 25 }")},
      {"diloco8-dn-w100", "the same, inner warmup 100 (an eighth)", 8, 1,
       absl::StrCat(Diloco(8, 100), kDelayedNesterov, " eval { interval_versions: 25 }")},
      {"diloco8-dn-poly", "8 async workers, DiLoCo H=8, delayed Nesterov, weights (1 + staleness)^-0.5", 8, 1,
       absl::StrCat(Diloco(8), kDelayedNesterov, " aggregation { weighting: POLYNOMIAL } eval { interval_versions: 25 }")},
      {"diloco8-sum", "8 async workers, DiLoCo H=8, outer SGD lr 1, no momentum (progress added up)", 8, 1,
       absl::StrCat(Diloco(8), PlainOuterSgd(1), " eval { interval_versions: 25 }")},
      {"diloco8-avg", "8 async workers, DiLoCo H=8, outer SGD lr 1/8, no momentum (averaged)", 8, 1,
       absl::StrCat(Diloco(8), PlainOuterSgd(0.125), " eval { interval_versions: 25 }")},
      {"diloco8-avg16", "8 async workers, DiLoCo H=8, outer SGD lr 1/16, no momentum", 8, 1,
       absl::StrCat(Diloco(8), PlainOuterSgd(0.0625), " eval { interval_versions: 25 }")},
      {"diloco8-avg2", "8 async workers, DiLoCo H=8, outer SGD lr 1/4, no momentum", 8, 1,
       absl::StrCat(Diloco(8), PlainOuterSgd(0.25), " eval { interval_versions: 25 }")},
      {"diloco8-buf8", "8 async workers, DiLoCo H=8, a step per 8 updates", 8, 1,
       absl::StrCat(Diloco(8), " aggregation { buffer_size: 8 } eval { interval_versions: 4 }")},
      {"diloco8-dn-int8", "8 async workers, DiLoCo H=8, delayed Nesterov, int8 both ways", 8, 1,
       absl::StrCat(Diloco(8), kDelayedNesterov, kDeltas, " codec { name: 'int8' } eval { interval_versions: 25 }")},
      {"diloco8-dn-h16-int4", "8 async workers, DiLoCo H=16, delayed Nesterov, int4 up, int8 down", 8, 1,
       absl::StrCat(Diloco(16), kDelayedNesterov, kDeltas, " codec { name: 'int4' } eval { interval_versions: 12 }")},
      {"diloco8-avg-h16-int4", "8 async workers, DiLoCo H=16, outer SGD lr 1/8, int4 up, int8 down", 8, 1,
       absl::StrCat(Diloco(16), kDeltas, PlainOuterSgd(0.125), " codec { name: 'int4' } eval { interval_versions: 12 }")},
      {"diloco8-dn-h32-int4", "8 async workers, DiLoCo H=32, delayed Nesterov, int4 up, int8 down", 8, 1,
       absl::StrCat(Diloco(32), kDelayedNesterov, kDeltas, " codec { name: 'int4' } eval { interval_versions: 6 }")},
      {"sync8-diloco-h16-int4", "8 workers, synchronous DiLoCo H=16, int4 up, int8 down", 8, 1,
       absl::StrCat(Diloco(16), kSync8, kDeltas, " codec { name: 'int4' } eval { interval_versions: 2 }")},
      {"sync8-diloco-h32-int4", "8 workers, synchronous DiLoCo H=32, int4 up, int8 down", 8, 1,
       absl::StrCat(Diloco(32), kSync8, kDeltas, " codec { name: 'int4' } eval { interval_versions: 1 }")},
      {"sync8-diloco-het", "8 workers 1x-4x slow, one leaving, synchronous DiLoCo H=8", 8, 1,
       absl::StrCat(Diloco(8), kSync8, " eval { interval_versions: 4 }"), kHeterogeneous},
      {"diloco8-dn-het", "8 async workers 1x-4x slow, one leaving, DiLoCo H=8, delayed Nesterov", 8, 1,
       absl::StrCat(Diloco(8), kDelayedNesterov, " eval { interval_versions: 25 }"), kHeterogeneous},
      {"diloco8-avg-het", "8 async workers 1x-4x slow, one leaving, DiLoCo H=8, outer SGD lr 1/8", 8, 1,
       absl::StrCat(Diloco(8), PlainOuterSgd(0.125), " eval { interval_versions: 25 }"),
       kHeterogeneous},
      {"diloco8-dn-poly-het", "the same, updates weighted by (1 + staleness)^-0.5", 8, 1,
       absl::StrCat(Diloco(8), kDelayedNesterov, " aggregation { weighting: POLYNOMIAL } eval { interval_versions: 25 }"),
       kHeterogeneous},
      {"diloco8-buf8-het", "8 async workers 1x-4x slow, one leaving, DiLoCo H=8, a step per 8 updates", 8, 1,
       absl::StrCat(Diloco(8), " aggregation { buffer_size: 8 max_staleness: 16 } eval { interval_versions: 4 }"),
       kHeterogeneous},
  };
  return *configs;
}

struct Curve {
  std::vector<int64_t> samples;
  std::vector<double> time_s;  // Since the run started (the coordinator's clock).
  std::vector<double> eval_loss;
  double seconds = 0;
  // From the final /api/status.
  int64_t samples_processed = 0;
  int64_t bytes_received_wire = 0;
  int64_t bytes_sent_wire = 0;
};

// A worker leaving at leave_s and a new process of its name joining at rejoin_s.
struct ChurnEvent {
  int worker = 0;
  double leave_s = 0;
  double rejoin_s = 0;
};

absl::StatusOr<std::vector<ChurnEvent>> ParseChurn(absl::string_view text) {
  std::vector<ChurnEvent> events;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const std::vector<std::string> parts = absl::StrSplit(item, ':');
    ChurnEvent e;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &e.worker) || !absl::SimpleAtod(parts[1], &e.leave_s) ||
        !absl::SimpleAtod(parts[2], &e.rejoin_s) || e.worker < 0 || e.leave_s < 0 || e.rejoin_s <= e.leave_s) {
      return absl::InvalidArgumentError(absl::StrCat("\"", item, "\" is not WORKER:LEAVE_S:REJOIN_S with ",
                                                     "0 <= LEAVE_S < REJOIN_S"));
    }
    events.push_back(e);
  }
  return events;
}

std::optional<RunConfig> FindConfig(const std::string& name) {
  std::optional<RunConfig> found;
  for (const RunConfig& c : AllConfigs()) {
    if (c.name != name) continue;
    if (found) {
      std::fprintf(stderr, "two runs are named \"%s\"\n", name.c_str());
      std::abort();
    }
    found = c;
  }
  return found;
}

// Starts the cluster, waits for the final evaluation, returns the curve.
absl::StatusOr<Curve> RunOne(const RunConfig& config, const tributary::v1::JobSpec& base, int epochs,
                             const std::vector<ChurnEvent>& churn) {
  tributary::v1::JobSpec job = base;
  if (!google::protobuf::TextFormat::MergeFromString(config.job_changes, &job)) {
    return absl::InternalError("bad job changes for " + config.name);
  }
  if (!google::protobuf::TextFormat::MergeFromString(absl::GetFlag(FLAGS_all_changes), &job)) {
    return absl::InvalidArgumentError("--all_changes: not a text-format JobSpec");
  }
  if (epochs > 0) job.mutable_budget()->set_epochs(epochs);
  std::string text;
  google::protobuf::TextFormat::PrintToString(job, &text);
  absl::StatusOr<tributary::v1::JobSpec> checked = ParseJobSpec(text, config.name);
  if (!checked.ok()) return checked.status();

  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_work_dir), "/", config.name);
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (!std::filesystem::create_directories(dir, error)) {
    return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  testing::WriteFile(dir + "/job.textproto", text);
  auto coordinator = Process::Start({Binary("tributary-coordinator"), "--job=" + dir + "/job.textproto",
                                     "--listen=127.0.0.1:0", "--http=127.0.0.1:0"},
                                    dir + "/coordinator.log");
  if (!coordinator.ok()) return coordinator.status();
  std::optional<testing::ListeningPorts> ports;
  if (!testing::WaitFor([&] { return (ports = testing::ParseListeningPorts((*coordinator)->Log())).has_value(); },
                        absl::Minutes(2))) {
    return absl::DeadlineExceededError("the coordinator did not start; see " + dir + "/coordinator.log");
  }
  std::vector<std::unique_ptr<Process>> workers(config.workers);
  int started = 0;
  auto start_worker = [&](int i) -> absl::Status {
    std::vector<std::string> argv = {Binary("tributary-worker"),
                                     absl::StrCat("--coordinator=127.0.0.1:", ports->grpc), absl::StrCat("--name=w", i),
                                     absl::StrCat("--threads=", config.threads_per_worker)};
    if (!config.slowdowns.empty()) argv.push_back(absl::StrCat("--test_slowdown=", config.slowdowns[i]));
    auto worker = Process::Start(argv, absl::StrCat(dir, "/worker-", i, ".", started++, ".log"));
    if (!worker.ok()) return worker.status();
    workers[i] = *std::move(worker);
    return absl::OkStatus();
  };
  for (int i = 0; i < config.workers; ++i) {
    if (absl::Status s = start_worker(i); !s.ok()) return s;
  }
  const absl::Time start = absl::Now();
  // Churn (heterogeneous runs only): each event a leave and a rejoin, in time order.
  struct ChurnStep {
    double at_s;
    int worker;
    bool leave;
  };
  std::vector<ChurnStep> steps;
  if (!config.slowdowns.empty()) {
    for (const ChurnEvent& e : churn) {
      if (e.worker >= config.workers) continue;
      steps.push_back({e.leave_s, e.worker, true});
      steps.push_back({e.rejoin_s, e.worker, false});
    }
  }
  std::stable_sort(steps.begin(), steps.end(), [](const ChurnStep& a, const ChurnStep& b) { return a.at_s < b.at_s; });
  size_t next_step = 0;
  absl::Status churn_error;
  int64_t last_report = -1;
  const bool done = testing::WaitFor(
      [&] {
        const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
        for (; next_step < steps.size() && steps[next_step].at_s <= elapsed; ++next_step) {
          const ChurnStep& step = steps[next_step];
          std::fprintf(stderr, "  %s: w%d %s at %.0f s\n", config.name.c_str(), step.worker,
                       step.leave ? "leaves" : "rejoins", elapsed);
          if (step.leave) {
            workers[step.worker]->Signal(SIGTERM);
            workers[step.worker]->Wait(absl::Seconds(30));
          } else if (absl::Status s = start_worker(step.worker); !s.ok()) {
            churn_error = s;
          }
        }
        if (!churn_error.ok()) return true;
        absl::StatusOr<json> s = testing::GetJson(ports->http, "/api/status");
        if (!s.ok()) return false;
        const int64_t shards = (*s)["shards"]["done"].get<int64_t>();
        if (shards / 100 != last_report / 100) {
          std::fprintf(stderr, "  %s: %lld/%lld shards, eval %s\n", config.name.c_str(), static_cast<long long>(shards),
                       static_cast<long long>((*s)["shards"]["total"].get<int64_t>()), (*s)["eval_loss"].dump().c_str());
          last_report = shards;
        }
        return (*s)["state"] == "done";
      },
      absl::Minutes(absl::GetFlag(FLAGS_timeout_min)));
  Curve curve;
  curve.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::StatusOr<json> history = testing::GetJson(ports->http, "/api/history");
  absl::StatusOr<json> status = testing::GetJson(ports->http, "/api/status");
  (*coordinator)->Signal(SIGTERM);
  (*coordinator)->Wait(absl::Seconds(30));
  if (!churn_error.ok()) return churn_error;
  if (!done) return absl::DeadlineExceededError(config.name + " did not finish; see " + dir);
  if (!history.ok()) return history.status();
  if (!status.ok()) return status.status();
  curve.samples_processed = (*status)["samples_processed"].get<int64_t>();
  curve.bytes_received_wire = (*status)["bytes"]["received_wire"].get<int64_t>();
  curve.bytes_sent_wire = (*status)["bytes"]["sent_wire"].get<int64_t>();
  const json& h = *history;
  for (size_t i = 0; i < h["eval_loss"].size(); ++i) {
    if (!h["eval_loss"][i].is_number()) continue;
    curve.samples.push_back(h["samples_processed"][i].get<int64_t>());
    curve.time_s.push_back(h["time_s"][i].get<double>());
    curve.eval_loss.push_back(h["eval_loss"][i].get<double>());
  }
  if (curve.samples.empty()) return absl::InternalError(config.name + ": no evaluation in the history");
  return curve;
}

// Where along `x` (samples or seconds, one per evaluation) `curve` first
// reaches `target` (linear between evaluations), or nullopt.
template <typename X>
std::optional<double> ToReach(const Curve& curve, const std::vector<X>& x, double target) {
  for (size_t i = 0; i < curve.eval_loss.size(); ++i) {
    if (curve.eval_loss[i] > target) continue;
    if (i == 0) return x[0];
    const double a = curve.eval_loss[i - 1], b = curve.eval_loss[i];
    const double t = (a - target) / (a - b);
    return x[i - 1] + t * (x[i] - x[i - 1]);
  }
  return std::nullopt;
}

// "V (R x)" for a value reached, or "not within LAST (> R x)".
std::string Reached(std::optional<double> value, double last, double baseline, const char* unit) {
  if (value) return absl::StrFormat("%.0f%s (%.2fx)", *value, unit, *value / baseline);
  return absl::StrFormat("not within %.0f%s (> %.2fx)", last, unit, last / baseline);
}

std::string Svg(const std::vector<std::pair<RunConfig, Curve>>& results) {
  constexpr double kWidth = 760, kHeight = 440, kLeft = 60, kRight = 230, kTop = 20, kBottom = 50;
  constexpr const char* kColors[] = {"#000000", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  double max_samples = 1, lo = 1e9, hi = -1e9;
  for (const auto& [config, curve] : results) {
    max_samples = std::max<double>(max_samples, curve.samples.back());
    for (double l : curve.eval_loss) lo = std::min(lo, l);
  }
  lo = std::floor(lo * 10) / 10;
  hi = lo + 1.5;  // Early losses would flatten the part that matters.
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto x = [&](double s) { return kLeft + plot_w * s / max_samples; };
  auto y = [&](double l) { return kTop + plot_h * (hi - std::clamp(l, lo, hi)) / (hi - lo); };
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  for (int i = 0; i <= 5; ++i) {
    const double l = lo + (hi - lo) * i / 5, s = max_samples * i / 5;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                          kLeft, y(l), kLeft + plot_w, y(l), kLeft - 6, y(l) + 4, l);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                          x(s), kTop, x(s), kTop + plot_h, x(s), kTop + plot_h + 16, s);
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">samples (sequences)</text>\n"
                        "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">"
                        "eval loss (nats/byte)</text>\n",
                        kLeft + plot_w / 2, kHeight - 12, kTop + plot_h / 2);
  for (size_t r = 0; r < results.size(); ++r) {
    const auto& [config, curve] = results[r];
    const char* color = kColors[r % std::size(kColors)];
    std::vector<std::string> points;
    for (size_t i = 0; i < curve.samples.size(); ++i) {
      points.push_back(absl::StrFormat("%.1f,%.1f", x(curve.samples[i]), y(curve.eval_loss[i])));
    }
    absl::StrAppendFormat(&svg, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", color,
                          absl::StrJoin(points, " "));
    const double ly = kTop + 10 + 20 * r;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          kWidth - kRight + 15, ly, kWidth - kRight + 40, ly, color, kWidth - kRight + 46, ly + 4,
                          config.name);
  }
  return svg + "</svg>\n";
}

int Main() {
  absl::StatusOr<tributary::v1::JobSpec> base = LoadJobSpec(absl::GetFlag(FLAGS_job));
  if (!base.ok()) {
    std::fprintf(stderr, "%s\n", std::string(base.status().message()).c_str());
    return 1;
  }
  std::vector<RunConfig> configs;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_runs), ',', absl::SkipEmpty())) {
    std::optional<RunConfig> config = FindConfig(std::string(name));
    if (!config) {
      std::fprintf(stderr, "--runs: no run named \"%s\"\n", std::string(name).c_str());
      return 1;
    }
    configs.push_back(*config);
  }
  if (configs.empty()) {
    std::fprintf(stderr, "--runs: name at least one run\n");
    return 1;
  }
  // Fail now, not after minutes of training.
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::filesystem::path out_dir = std::filesystem::path(out).parent_path();
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir)) {
    std::fprintf(stderr, "--out: %s is not a directory\n", out_dir.c_str());
    return 1;
  }
  for (const auto* flag : {&FLAGS_baseline_epochs, &FLAGS_epochs}) {
    if (absl::GetFlag(*flag) < 0) {
      std::fprintf(stderr, "--%s: must be 0 (the job's budget) or more\n",
                   flag == &FLAGS_epochs ? "epochs" : "baseline_epochs");
      return 1;
    }
  }
  absl::StatusOr<std::vector<ChurnEvent>> churn = ParseChurn(absl::GetFlag(FLAGS_churn));
  if (!churn.ok()) {
    std::fprintf(stderr, "--churn: %s\n", std::string(churn.status().message()).c_str());
    return 1;
  }
  const std::string bytes_reference = absl::GetFlag(FLAGS_bytes_reference);
  if (!bytes_reference.empty() && std::none_of(configs.begin(), configs.end(), [&](const RunConfig& c) {
        return c.name == bytes_reference;
      })) {
    std::fprintf(stderr, "--bytes_reference: \"%s\" is not among --runs\n", bytes_reference.c_str());
    return 1;
  }
  std::vector<std::pair<RunConfig, Curve>> results;
  for (const RunConfig& config : configs) {
    std::fprintf(stderr, "%s: %s\n", config.name.c_str(), config.description.c_str());
    absl::StatusOr<Curve> curve =
        RunOne(config, *base, absl::GetFlag(results.empty() ? FLAGS_baseline_epochs : FLAGS_epochs), *churn);
    if (!curve.ok()) {
      std::fprintf(stderr, "%s: %s\n", config.name.c_str(), std::string(curve.status().message()).c_str());
      return 1;
    }
    results.emplace_back(config, *std::move(curve));
  }

  std::string csv = "run,samples,time_s,eval_loss\n";
  for (const auto& [config, curve] : results) {
    for (size_t i = 0; i < curve.samples.size(); ++i) {
      absl::StrAppendFormat(&csv, "%s,%d,%.1f,%.5f\n", config.name, curve.samples[i], curve.time_s[i],
                            curve.eval_loss[i]);
    }
  }
  testing::WriteFile(out + ".csv", csv);
  testing::WriteFile(out + ".svg", Svg(results));

  // Bytes per sample, each way, against the reference run's.
  const Curve* reference = &results.front().second;
  std::string reference_name = results.front().first.name;
  for (const auto& [config, curve] : results) {
    if (config.name != bytes_reference) continue;
    reference = &curve;
    reference_name = config.name;
  }
  auto per_sample = [](const Curve& c, int64_t bytes) {
    return static_cast<double>(bytes) / std::max<int64_t>(1, c.samples_processed);
  };
  const double reference_up = per_sample(*reference, reference->bytes_received_wire);
  const double reference_both = per_sample(*reference, reference->bytes_received_wire + reference->bytes_sent_wire);

  const auto& [baseline_config, baseline] = results.front();
  const double target = baseline.eval_loss.back();
  std::string table = absl::StrFormat(
      "| run | what | final eval loss | gap to %s | samples to reach %s's final %.4f | seconds to reach it | "
      "upload bytes / sample | %s's upload / this | up + down bytes / sample | %s's up + down / this | "
      "wall time |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n",
      baseline_config.name, baseline_config.name, target, reference_name, reference_name);
  for (const auto& [config, curve] : results) {
    const double final_loss = curve.eval_loss.back();
    const double up = per_sample(curve, curve.bytes_received_wire);
    const double both = per_sample(curve, curve.bytes_received_wire + curve.bytes_sent_wire);
    absl::StrAppendFormat(
        &table, "| %s | %s | %.4f | %+.1f %% | %s | %s | %.0f | %.1fx | %.0f | %.1fx | %.0f s |\n", config.name,
        config.description, final_loss, 100 * (final_loss / target - 1),
        Reached(ToReach(curve, curve.samples, target), curve.samples.back(), baseline.samples.back(), ""),
        Reached(ToReach(curve, curve.time_s, target), curve.time_s.back(), baseline.time_s.back(), " s"), up,
        reference_up / up, both, reference_both / both, curve.seconds);
  }
  testing::WriteFile(out + ".md", table);
  std::printf("%s\nwrote %s.csv, %s.svg, %s.md\n", table.c_str(), out.c_str(), out.c_str(), out.c_str());
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv,
                        "Runs real clusters on 127.0.0.1 and compares their loss against wall time and samples.\n  "
                        "convergence --job=FILE");
  return tributary::Main();
}
