// The GPT training step (forward + backward + AdamW) at the issue's
// reference size, L=4 H=4 C=256 T=128 B=8 V=256, with this machine's sgemm
// rate measured in the same run for the roofline. (The PyTorch comparison
// is still to come; see docs/BENCHMARKS.md.)
//
//   build/bin/gpt_step [--threads=N] [--steps=N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "Eigen/Core"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/models/gpt.h"
#include "common/optim/adamw.h"

namespace tributary {
namespace {

constexpr int kL = 4, kH = 4, kC = 256, kT = 128, kB = 8;

// Seconds per call of `f`, the best of `reps` after one warm-up.
template <typename F>
double BestSeconds(int reps, F f) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const absl::Time start = absl::Now();
    f();
    best = std::min(best, absl::ToDoubleSeconds(absl::Now() - start));
  }
  return best;
}

// FLOPs of one step: 6 per matmul parameter per token (forward 2, backward
// 4), plus attention's QK^T and AV products (forward 2 x 2, backward 2 x 4)
// over the causal half.
double StepFlops() {
  const double tokens = double{kB} * kT;
  const double matmul_params = kL * 12.0 * kC * kC + 256.0 * kC;
  const double attention = kL * 12.0 * kB * kT * kT * kC / 2;
  return 6 * matmul_params * tokens + attention;
}

double SgemmFlopsPerSecond() {
  const int n = 512;
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n), c(n, n);
  const double s = BestSeconds(5, [&] { c.noalias() = a * b; });
  return 2.0 * n * n * n / s;
}

int Main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int steps = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    if (std::strncmp(argv[i], "--steps=", 8) == 0) steps = std::atoi(argv[i] + 8);
  }
  Eigen::setNbThreads(threads);
  tributary::v1::GptSpec spec;
  spec.set_layers(kL);
  spec.set_heads(kH);
  spec.set_channels(kC);
  spec.set_context(kT);
  auto model = *GptModel::Create(spec);
  std::vector<float> params(model->layout().size()), grads(params.size());
  model->InitParams(absl::MakeSpan(params), 1);
  std::mt19937 rng(1);
  std::vector<uint8_t> batch(static_cast<size_t>(kB) * (kT + 1));
  for (uint8_t& b : batch) b = rng() % 256;

  AdamW adamw(AdamWOptions{}, params.size());
  const double step = BestSeconds(steps, [&] {
    model->ForwardBackward(params, batch, absl::MakeSpan(grads));
    adamw.Step(absl::MakeSpan(params), grads, 1e-4f);
  });
  const double sgemm = SgemmFlopsPerSecond();
  std::printf("machine: %u hardware threads; Eigen threads: %d\n", std::thread::hardware_concurrency(), threads);
  std::printf("model: L=%d H=%d C=%d T=%d B=%d V=256, %lld parameters\n", kL, kH, kC, kT, kB,
              static_cast<long long>(params.size()));
  std::printf("forward+backward+AdamW: %.1f ms/step, %.0f tokens/s\n", step * 1e3, kB * kT / step);
  std::printf("achieved: %.1f GFLOP/s of %.1f GFLOP/step; sgemm 512^3 here: %.1f GFLOP/s; fraction of roofline: %.0f%%\n",
              StepFlops() / step / 1e9, StepFlops() / 1e9, sgemm / 1e9, 100 * StepFlops() / step / sgemm);
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) { return tributary::Main(argc, argv); }
