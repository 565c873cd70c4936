// Convergence harness: does asynchronous (issue 5) or compressed (issue 6)
// training learn as well as one worker sending fp32 gradients, for the same
// samples? Runs real clusters on 127.0.0.1 (a coordinator and N worker
// processes) on one job, its budget each (--epochs gives the runs after the
// baseline more, to see how many samples they need to catch up), reads eval
// loss against samples from /api/history and the bytes received from
// /api/status, and writes a CSV, an SVG plot and a Markdown table. Takes
// minutes; not part of ctest.
//
//   build/bin/convergence [--job=bench/convergence.textproto] [--out=docs/convergence]
//                         [--runs=single,async4,async8,fedbuff8,diloco8,diloco8-dn] [--epochs=2]
//   build/bin/convergence --out=docs/compression
//       --runs=single,int8,powersgd4,topk1-int8,diloco1,diloco1-topk5-int8,diloco1-powersgd4
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
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/job_spec.h"
#include "common/models/model.h"
#include "google/protobuf/text_format.h"
#include "tests/e2e/harness.h"

ABSL_FLAG(std::string, job, "bench/convergence.textproto", "Base job spec of every run");
ABSL_FLAG(std::string, out, "docs/convergence", "Writes OUT.csv, OUT.svg and OUT.md");
ABSL_FLAG(std::string, runs, "single,async4,async8,fedbuff8,diloco8,diloco8-dn",
          "Runs, in order; the first is the baseline");
ABSL_FLAG(std::string, work_dir, "/tmp/tributary-convergence", "Job files and logs of each run");
ABSL_FLAG(int, timeout_min, 20, "Gives up on a run after this many minutes");
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
};

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
      {"diloco1-int8", "1 worker, DiLoCo H=20, int8 (blocks of 256)", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'int8' }")},
      {"diloco1-topk5-int8", "1 worker, DiLoCo H=20, top 5 %, int8 values", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'topk' topk_fraction: 0.05 values: INT8 }")},
      {"diloco1-powersgd4", "1 worker, DiLoCo H=20, PowerSGD rank 4, fp16 factors", 1, 2,
       absl::StrCat(kDiloco, " codec { name: 'powersgd' rank: 4 values: FP16 }")},
  };
  return *configs;
}

struct Curve {
  std::vector<int64_t> samples;
  std::vector<double> eval_loss;
  double seconds = 0;
  // From the final /api/status.
  int64_t samples_processed = 0;
  int64_t bytes_received_wire = 0;
};

std::optional<RunConfig> FindConfig(const std::string& name) {
  for (const RunConfig& c : AllConfigs()) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

// Starts the cluster, waits for the final evaluation, returns the curve.
absl::StatusOr<Curve> RunOne(const RunConfig& config, const tributary::v1::JobSpec& base, int epochs) {
  tributary::v1::JobSpec job = base;
  if (!google::protobuf::TextFormat::MergeFromString(config.job_changes, &job)) {
    return absl::InternalError("bad job changes for " + config.name);
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
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < config.workers; ++i) {
    auto worker = Process::Start({Binary("tributary-worker"), absl::StrCat("--coordinator=127.0.0.1:", ports->grpc),
                                  absl::StrCat("--name=w", i), absl::StrCat("--threads=", config.threads_per_worker)},
                                 absl::StrCat(dir, "/worker-", i, ".log"));
    if (!worker.ok()) return worker.status();
    workers.push_back(*std::move(worker));
  }
  const absl::Time start = absl::Now();
  int64_t last_report = -1;
  const bool done = testing::WaitFor(
      [&] {
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
  if (!done) return absl::DeadlineExceededError(config.name + " did not finish; see " + dir);
  if (!history.ok()) return history.status();
  if (!status.ok()) return status.status();
  curve.samples_processed = (*status)["samples_processed"].get<int64_t>();
  curve.bytes_received_wire = (*status)["bytes"]["received_wire"].get<int64_t>();
  const json& h = *history;
  for (size_t i = 0; i < h["eval_loss"].size(); ++i) {
    if (!h["eval_loss"][i].is_number()) continue;
    curve.samples.push_back(h["samples_processed"][i].get<int64_t>());
    curve.eval_loss.push_back(h["eval_loss"][i].get<double>());
  }
  if (curve.samples.empty()) return absl::InternalError(config.name + ": no evaluation in the history");
  return curve;
}

// The samples at which `curve` first reaches `target` (linear between
// evaluations), or nullopt.
std::optional<double> SamplesToReach(const Curve& curve, double target) {
  for (size_t i = 0; i < curve.samples.size(); ++i) {
    if (curve.eval_loss[i] > target) continue;
    if (i == 0) return curve.samples[0];
    const double a = curve.eval_loss[i - 1], b = curve.eval_loss[i];
    const double t = (a - target) / (a - b);
    return curve.samples[i - 1] + t * (curve.samples[i] - curve.samples[i - 1]);
  }
  return std::nullopt;
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
  if (absl::GetFlag(FLAGS_epochs) < 0) {
    std::fprintf(stderr, "--epochs: must be 0 (the job's budget) or more\n");
    return 1;
  }
  std::vector<std::pair<RunConfig, Curve>> results;
  for (const RunConfig& config : configs) {
    std::fprintf(stderr, "%s: %s\n", config.name.c_str(), config.description.c_str());
    absl::StatusOr<Curve> curve = RunOne(config, *base, results.empty() ? 0 : absl::GetFlag(FLAGS_epochs));
    if (!curve.ok()) {
      std::fprintf(stderr, "%s: %s\n", config.name.c_str(), std::string(curve.status().message()).c_str());
      return 1;
    }
    results.emplace_back(config, *std::move(curve));
  }

  std::string csv = "run,samples,eval_loss\n";
  for (const auto& [config, curve] : results) {
    for (size_t i = 0; i < curve.samples.size(); ++i) {
      absl::StrAppendFormat(&csv, "%s,%d,%.5f\n", config.name, curve.samples[i], curve.eval_loss[i]);
    }
  }
  testing::WriteFile(out + ".csv", csv);
  testing::WriteFile(out + ".svg", Svg(results));

  // What fp32 gradients cost: the whole model per shard of the base job.
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(base->model());
  if (!model.ok()) return 1;
  const double fp32_gradient_bytes_per_sample =
      4.0 * (*model)->layout().size() / base->data().shard_examples();

  const Curve& baseline = results.front().second;
  const double target = baseline.eval_loss.back();
  std::string table = absl::StrFormat(
      "| run | what | final eval loss | gap to %s | samples to reach %s's final %.4f | "
      "wire bytes / sample | fp32 gradients / wire | wall time |\n"
      "|---|---|---|---|---|---|---|---|\n",
      results.front().first.name, results.front().first.name, target);
  for (const auto& [config, curve] : results) {
    const double final_loss = curve.eval_loss.back();
    const std::optional<double> reach = SamplesToReach(curve, target);
    const std::string reached =
        reach ? absl::StrFormat("%.0f (%.2fx)", *reach, *reach / baseline.samples.back())
              : absl::StrFormat("not within %lld (> %.2fx)", static_cast<long long>(curve.samples.back()),
                                static_cast<double>(curve.samples.back()) / baseline.samples.back());
    const double wire_per_sample =
        static_cast<double>(curve.bytes_received_wire) / std::max<int64_t>(1, curve.samples_processed);
    absl::StrAppendFormat(&table, "| %s | %s | %.4f | %+.1f %% | %s | %.0f | %.1fx | %.0f s |\n", config.name,
                          config.description, final_loss, 100 * (final_loss / target - 1), reached, wire_per_sample,
                          fp32_gradient_bytes_per_sample / wire_per_sample, curve.seconds);
  }
  testing::WriteFile(out + ".md", table);
  std::printf("%s\nwrote %s.csv, %s.svg, %s.md\n", table.c_str(), out.c_str(), out.c_str(), out.c_str());
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return tributary::Main();
}
