// Costs of one task's pieces on this machine, each beside a memcpy of the
// same bytes measured in the same run:
//   - the MLP gradient over one shard (forward + backward),
//   - SHA-256 of a model payload (both ends verify every payload).
// The codecs have their own: bench/codec_bench.cc.
//
//   build/bin/step_bench --benchmark_counters_tabular=true
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/models/mlp.h"
#include "common/sha256.h"

namespace tributary {
namespace {

constexpr int kInputs = 784;

// The default job's model: 784-256-10.
std::unique_ptr<MlpModel> DefaultMlp(const ModelOptions& options = {}) {
  tributary::v1::MlpSpec spec;
  spec.add_hidden(256);
  return *MlpModel::Create(spec, options);
}

std::vector<uint8_t> Records(int n) {
  std::mt19937 rng(1);
  std::vector<uint8_t> records;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kInputs; ++j) records.push_back(rng() % 256);
    records.push_back(rng() % 10);
  }
  return records;
}

void BM_MlpGradient(benchmark::State& state) {
  const int batch = state.range(0);
  auto model = DefaultMlp({batch, static_cast<int>(state.range(1))});
  std::vector<float> params(model->layout().size()), grads(params.size());
  model->InitParams(absl::MakeSpan(params), 1);
  const auto records = Records(batch);
  for (auto _ : state) {
    benchmark::DoNotOptimize(model->ForwardBackward(params, records, absl::MakeSpan(grads)));
  }
  state.counters["examples/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
  // 2 flops per multiply-add, forward once and backward twice.
  state.counters["GFLOP/s"] = benchmark::Counter(6.0 * batch * (784 * 256 + 256 * 10) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MlpGradient)->ArgNames({"batch", "threads"})->Args({128, 1})->Args({128, 2})->Args({1024, 1})->Args({1024, 2});

// A payload the size of the default model's weights.
std::string ModelPayload() {
  return std::string(DefaultMlp()->layout().size() * sizeof(float), '\x01');
}

void BM_Memcpy(benchmark::State& state) {
  const std::string src = ModelPayload();
  std::string dst(src.size(), '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * src.size());
}
BENCHMARK(BM_Memcpy);

void BM_Sha256(benchmark::State& state) {
  const std::string payload = ModelPayload();
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(payload));
  state.SetBytesProcessed(state.iterations() * payload.size());
}
BENCHMARK(BM_Sha256);

}  // namespace
}  // namespace tributary

BENCHMARK_MAIN();
