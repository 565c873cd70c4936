// How fast the coordinator folds updates into its buffer, next to a
// STREAM-like triad measured in the same run (the machine's memory
// bandwidth as these threads see it; it varies from run to run on a
// shared machine, hence the same-run ratio):
//
//   triad                 a[i] = b[i] + s c[i]
//   fp32 accumulate       acc[i] += w u[i]          (codec "none": Codec::DecodeAccumulate)
//   int8 decode+accumulate acc[i] += w q[i] scale_b  (codec "int8", fused, one pass)
//   int8 decode           u[i] = q[i] scale_b       (Codec::Decode: the first update of a buffer)
//   int8 inspect          checks and the norm       (Codec::Inspect: every update, before it is admitted)
//
// GB/s counts the bytes each kernel moves, as STREAM does (reads + writes,
// no write-allocate): triad 12 per value, fp32 accumulate 12, int8
// decode+accumulate 9 + 4/256, decode 5 + 4/256, inspect 1 + 4/256.
// "update GB/s" counts the update's own bytes only (4 per value in fp32,
// 1 + 4/256 in int8). Each figure is the best of --reps passes.
//
//   build/bin/aggregate_bench [--values=N] [--threads=T] [--reps=R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "common/codec/codec.h"
#include "common/parallel.h"
#include "common/usage.h"

ABSL_FLAG(int64_t, values, 3257856, "Values per update (default: the flagship GPT's parameters)");
ABSL_FLAG(int, threads, 2, "Threads (the kernels also run on 1)");
ABSL_FLAG(int, reps, 20, "Passes per kernel; the best counts");

namespace tributary {
namespace {

// Seconds of the fastest of `reps` calls of `f`.
template <typename F>
double Best(int reps, F f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

std::unique_ptr<Codec> MakeCodec(const std::string& name, int64_t n) {
  tributary::v1::CodecSpec spec;
  spec.set_name(name);
  ParamLayout layout;
  layout.Add("update", {n});
  absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(spec, layout);
  if (!codec.ok()) {
    std::fprintf(stderr, "%s\n", codec.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(codec);
}

int Run() {
  const int64_t n = absl::GetFlag(FLAGS_values);
  const int reps = absl::GetFlag(FLAGS_reps);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  std::vector<float> a(n), b(n), c(n), update(n), acc(n);
  for (int64_t i = 0; i < n; ++i) {
    b[i] = normal(rng);
    c[i] = normal(rng);
    update[i] = normal(rng);
  }
  const std::unique_ptr<Codec> fp32 = MakeCodec("none", n), int8 = MakeCodec("int8", n);
  const std::string fp32_payload = fp32->NewEncoder()->Encode(update);
  const std::string int8_payload = int8->NewEncoder()->Encode(update);
  const double nd = static_cast<double>(n);
  const double int8_bytes = static_cast<double>(int8_payload.size());

  std::printf("values %lld (%.1f MB of fp32 per array), best of %d\n", static_cast<long long>(n), nd * 4 / 1e6, reps);
  std::printf("%-24s %7s %8s %12s %9s\n", "kernel", "threads", "GB/s", "update GB/s", "of triad");
  std::vector<int> thread_counts = {1};
  if (absl::GetFlag(FLAGS_threads) > 1) thread_counts.push_back(absl::GetFlag(FLAGS_threads));
  for (int threads : thread_counts) {
    const float s = 0.5f;
    const double triad = Best(reps, [&] {
      ParallelFor(threads, n, 2, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) a[i] = b[i] + s * c[i];
      });
    });
    const double triad_gbs = 12 * nd / triad / 1e9;
    auto row = [&](const char* kernel, double seconds, double moved, double update_bytes) {
      const double gbs = moved / seconds / 1e9;
      std::printf("%-24s %7d %8.1f %12.1f %8.0f%%\n", kernel, threads, gbs, update_bytes / seconds / 1e9,
                  100 * gbs / triad_gbs);
    };
    row("triad", triad, 12 * nd, 12 * nd);
    std::fill(acc.begin(), acc.end(), 0.0f);
    row("fp32 accumulate", Best(reps, [&] { fp32->DecodeAccumulate(fp32_payload, 0.5f, absl::MakeSpan(acc), threads); }),
        12 * nd, 4 * nd);
    row("int8 decode+accumulate",
        Best(reps, [&] { int8->DecodeAccumulate(int8_payload, 0.5f, absl::MakeSpan(acc), threads); }),
        8 * nd + int8_bytes, int8_bytes);
    if (threads == 1) {  // Single-threaded in the codec.
      row("int8 decode", Best(reps, [&] { (void)int8->Decode(int8_payload, absl::MakeSpan(acc)); }),
          4 * nd + int8_bytes, int8_bytes);
      row("int8 inspect", Best(reps, [&] { (void)int8->Inspect(int8_payload); }), int8_bytes, int8_bytes);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tributary

int main(int argc, char** argv) {
  tributary::ParseFlags(
      argc, argv,
      "How fast the coordinator folds updates into its buffer, beside a STREAM-like triad.\n  aggregate_bench");
  return tributary::Run();
}
