// The GPT training step (forward + backward + AdamW) at the issue's
// reference size, L=4 H=4 C=256 T=128 B=8 V=256, with this machine's sgemm
// rate measured in the same run for the roofline. When Debian's
// python3-torch is installed, the same step in PyTorch CPU
// (bench/gpt_step_torch.py) in its best thread configuration here: every
// torch intra-op count x OPENBLAS_NUM_THREADS up to the core count.
//
//   build/bin/gpt_step [--threads=N] [--steps=N] [--torch=0]
#include <sys/resource.h>

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

// PyTorch's best ms/step over thread settings, or a negative number when
// /usr/bin/python3 has no torch.
double BestTorchMs(int cores, int steps) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) return -1;
  double best = -1;
  for (int torch_threads = 1; torch_threads <= cores; ++torch_threads) {
    for (int blas_threads = 1; blas_threads <= cores; ++blas_threads) {
      const std::string command = "OPENBLAS_NUM_THREADS=" + std::to_string(blas_threads) +
                                  " /usr/bin/python3 " TRIBUTARY_SOURCE_DIR "/bench/gpt_step_torch.py --threads=" +
                                  std::to_string(torch_threads) + " --steps=" + std::to_string(steps);
      FILE* out = popen(command.c_str(), "r");
      double ms = -1;
      if (out != nullptr && std::fscanf(out, "ms_per_step=%lf", &ms) == 1) {
        std::printf("pytorch: torch threads %d, OPENBLAS_NUM_THREADS %d: %.1f ms/step\n", torch_threads,
                    blas_threads, ms);
        if (best < 0 || ms < best) best = ms;
      }
      if (out != nullptr) pclose(out);
    }
  }
  return best;
}

int Main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int steps = 5;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    if (std::strncmp(argv[i], "--steps=", 8) == 0) steps = std::atoi(argv[i] + 8);
    if (std::strcmp(argv[i], "--torch=0") == 0) torch = false;
  }
  tributary::v1::GptSpec spec;
  spec.set_layers(kL);
  spec.set_heads(kH);
  spec.set_channels(kC);
  spec.set_context(kT);
  auto model = *GptModel::Create(spec, {kB, threads});
  std::vector<float> params(model->layout().size()), grads(params.size());
  model->InitParams(absl::MakeSpan(params), 1);
  std::mt19937 rng(1);
  std::vector<uint8_t> batch(static_cast<size_t>(kB) * (kT + 1));
  for (uint8_t& b : batch) b = rng() % 256;

  AdamW adamw(AdamWOptions{}, params.size());
  const double step = BestSeconds(steps, [&] {
    model->ForwardBackward(params, batch, absl::MakeSpan(grads)).value();  // kB fits: it was built for it.
    adamw.Step(absl::MakeSpan(params), grads, 1e-4f);
  });
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double peak_rss_mb = usage.ru_maxrss / 1024.0;
  // What training needs: weights, gradients, AdamW's two moments, and the
  // activations with their gradients.
  const double needed_mb = (4.0 * params.size() * sizeof(float) + model->arena_bytes()) / (1 << 20);
  const double sgemm = SgemmFlopsPerSecond();
  std::printf("machine: %u hardware threads; Eigen threads: %d\n", std::thread::hardware_concurrency(), threads);
  std::printf("model: L=%d H=%d C=%d T=%d B=%d V=256, %lld parameters\n", kL, kH, kC, kT, kB,
              static_cast<long long>(params.size()));
  std::printf("forward+backward+AdamW: %.1f ms/step, %.0f tokens/s\n", step * 1e3, kB * kT / step);
  std::printf("achieved: %.1f GFLOP/s of %.1f GFLOP/step; sgemm 512^3 here: %.1f GFLOP/s; fraction of roofline: %.0f%%\n",
              StepFlops() / step / 1e9, StepFlops() / 1e9, sgemm / 1e9, 100 * StepFlops() / step / sgemm);
  std::printf("memory: peak RSS %.0f MiB; params + grads + AdamW moments + activation arenas %.0f MiB "
              "(%.0f MiB of it arenas); ratio %.2f\n",
              peak_rss_mb, needed_mb, model->arena_bytes() / double(1 << 20), peak_rss_mb / needed_mb);
  if (!torch) return 0;
  const double torch_ms = BestTorchMs(static_cast<int>(std::thread::hardware_concurrency()), steps);
  if (torch_ms < 0) {
    std::printf("pytorch: not measured (/usr/bin/python3 has no torch; apt-get install python3-torch)\n");
  } else {
    std::printf("pytorch best: %.1f ms/step, %.0f tokens/s; tributary / pytorch: %.2fx\n", torch_ms,
                kB * kT / (torch_ms / 1e3), torch_ms / (step * 1e3));
  }
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) { return tributary::Main(argc, argv); }
