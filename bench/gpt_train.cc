// Single-process training on a job's data, no network: the baseline the
// distributed run is measured against (loss against time and samples).
// Walks the shards in the coordinator's shuffled order, one optimizer step
// per shard, with the job's optimizer and schedule; evaluates on the
// held-out split every --eval_every steps.
//
//   build/bin/gpt_train --job=deploy/jobs/gpt-fortunes.textproto [--steps=N] [--threads=N]
//   build/bin/gpt_train --job=... --eval_records=FILE   (bench/gpt_train_torch.py --check_eval=FILE)
#include <cstdio>
#include <deque>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "common/job_spec.h"
#include "common/models/model.h"
#include "common/optim/optimizer.h"
#include "common/usage.h"
#include "coordinator/dataset.h"

ABSL_FLAG(std::string, job, "", "Job spec");
ABSL_FLAG(int, steps, 0, "Steps to take; 0 = the job's whole budget");
ABSL_FLAG(int, threads, 2, "CPU threads");
ABSL_FLAG(int, eval_every, 100, "Steps between evaluations");
ABSL_FLAG(int, delay, 0, "Compute each gradient on the weights of this many steps ago (simulated staleness)");
ABSL_FLAG(std::string, eval_records, "",
          "Write the held-out records the coordinator evaluates on (the first eval.max_examples) to this file, "
          "then exit");

namespace tributary {
namespace {

int Main() {
  absl::StatusOr<tributary::v1::JobSpec> job = LoadJobSpec(absl::GetFlag(FLAGS_job));
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", std::string(job.status().message()).c_str());
    return 1;
  }
  auto dataset = *coordinator::LoadDataset(*job);
  auto model = *CreateModel(job->model(), {job->data().shard_examples(), absl::GetFlag(FLAGS_threads)});
  const int64_t n = model->layout().size();
  std::vector<float> params(n), grads(n);
  model->InitParams(absl::MakeSpan(params), job->seed());
  Optimizer optimizer(job->optimizer(), n);
  const int64_t total = static_cast<int64_t>(dataset->shards.size()) * job->budget().epochs();
  const int64_t steps = absl::GetFlag(FLAGS_steps) > 0 ? absl::GetFlag(FLAGS_steps) : total;
  std::string test = dataset->test;
  if (job->eval().max_examples() > 0) test.resize(std::min<size_t>(test.size(), job->eval().max_examples() * dataset->example_bytes));
  const auto test_records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(test.data()), test.size());
  if (const std::string path = absl::GetFlag(FLAGS_eval_records); !path.empty()) {
    std::FILE* out = std::fopen(path.c_str(), "wb");
    const bool written = out != nullptr && std::fwrite(test.data(), 1, test.size(), out) == test.size();
    if (out == nullptr || std::fclose(out) != 0 || !written) {
      std::fprintf(stderr, "%s: cannot write the evaluation records\n", path.c_str());
      return 1;
    }
    return 0;
  }

  // The weights of the last `delay` steps, oldest first.
  const int delay = absl::GetFlag(FLAGS_delay);
  std::deque<std::vector<float>> history;
  std::mt19937_64 rng(job->seed());
  std::vector<uint32_t> order(dataset->shards.size());
  const absl::Time start = absl::Now();
  double train_sum = 0;
  int64_t train_count = 0, samples = 0;
  for (int64_t step = 0; step < steps; ++step) {
    if (step % static_cast<int64_t>(order.size()) == 0) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
    }
    const absl::string_view shard = dataset->ShardBytes(dataset->shards[order[step % order.size()]]);
    // Without a delay the gradient is taken at the current weights, uncopied.
    if (delay > 0) {
      history.push_back(params);
      if (static_cast<int>(history.size()) > delay + 1) history.pop_front();
    }
    const absl::StatusOr<LossStats> stats = model->ForwardBackward(
        delay > 0 ? history.front() : params, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(shard.data()), shard.size()),
        absl::MakeSpan(grads));
    if (!stats.ok()) {
      std::fprintf(stderr, "step %lld: %s\n", static_cast<long long>(step), std::string(stats.status().message()).c_str());
      return 1;
    }
    samples += stats->examples;
    train_sum += stats->loss_sum;
    train_count += stats->examples;
    optimizer.Step(absl::MakeSpan(params), absl::MakeSpan(grads),
                   static_cast<float>(ScheduledLearningRate(job->optimizer(), step, total)));
    if ((step + 1) % absl::GetFlag(FLAGS_eval_every) == 0 || step + 1 == steps) {
      const absl::StatusOr<LossStats> eval =
          EvaluateInBatches(*model, params, test_records, job->data().shard_examples());
      if (!eval.ok()) {
        std::fprintf(stderr, "eval: %s\n", std::string(eval.status().message()).c_str());
        return 1;
      }
      std::printf("step %lld  samples %lld  time %.1f s  train %.4f  eval %.4f\n",
                  static_cast<long long>(step + 1), static_cast<long long>(samples),
                  absl::ToDoubleSeconds(absl::Now() - start), train_sum / train_count, eval->mean_loss());
      std::fflush(stdout);
      train_sum = 0;
      train_count = 0;
    }
  }
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv,
                        "Trains a job in one process, without the network: the baseline a distributed run is measured "
                        "against.\n  gpt_train --job=FILE");
  return tributary::Main();
}
