// Encode and decode throughput of every codec on an update the size of the
// flagship GPT (deploy/jobs/gpt-fortunes.textproto, 3.26 M parameters),
// beside a memcpy of the same fp32 bytes in the same run. Bytes processed
// are always the update's fp32 size, so the GB/s columns compare directly;
// "ratio" is fp32 bytes over payload bytes.
//
//   build/bin/codec_bench --benchmark_counters_tabular=true
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/codec/codec.h"
#include "common/job_spec.h"
#include "common/models/model.h"
#include "google/protobuf/text_format.h"

namespace tributary {
namespace {

const ParamLayout& GptLayout() {
  static const ParamLayout* layout = [] {
    std::unique_ptr<Model> model = *CreateModel(DefaultJobSpec().model());
    return new ParamLayout(model->layout());
  }();
  return *layout;
}

// Gradient-like values: Gaussian, 1e-3 scale.
const std::vector<float>& Update() {
  static const std::vector<float>* update = [] {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1e-3f);
    auto* v = new std::vector<float>(GptLayout().size());
    for (float& x : *v) x = normal(rng);
    return v;
  }();
  return *update;
}

// The codecs measured, as job text.
const char* const kCodecs[] = {
    "name: 'none'",
    "name: 'fp16'",
    "name: 'int8' block_size: 256",
    "name: 'int4' block_size: 256",
    "name: 'topk' topk_fraction: 0.01",
    "name: 'topk' topk_fraction: 0.01 values: INT8",
    "name: 'powersgd' rank: 4",
    "name: 'powersgd' rank: 4 values: FP16",
};

struct Setup {
  std::unique_ptr<Codec> codec;
  std::unique_ptr<Encoder> encoder;
  std::string payload;
};

Setup Make(int which, benchmark::State& state) {
  tributary::v1::CodecSpec spec;
  google::protobuf::TextFormat::ParseFromString(kCodecs[which], &spec);
  Setup s;
  s.codec = *CreateCodec(spec, GptLayout());
  s.encoder = NewWorkerEncoder(*s.codec, spec);
  s.payload = s.encoder->Encode(Update());
  state.SetLabel(kCodecs[which]);
  state.counters["ratio"] = static_cast<double>(Update().size() * sizeof(float)) / s.payload.size();
  return s;
}

void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * Update().size() * sizeof(float));
}

void BM_Memcpy(benchmark::State& state) {
  const std::vector<float>& src = Update();
  std::vector<float> dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}
BENCHMARK(BM_Memcpy);

// With error feedback where the job would have it (topk, powersgd): the
// encode cost a worker pays, including its own decode of the residual.
void BM_Encode(benchmark::State& state) {
  Setup s = Make(state.range(0), state);
  for (auto _ : state) benchmark::DoNotOptimize(s.encoder->Encode(Update()));
  SetBytes(state);
}
BENCHMARK(BM_Encode)->DenseRange(0, std::size(kCodecs) - 1);

// What the coordinator pays per upload, validation included.
void BM_Decode(benchmark::State& state) {
  Setup s = Make(state.range(0), state);
  std::vector<float> decoded(Update().size());
  for (auto _ : state) {
    if (!s.codec->Decode(s.payload, absl::MakeSpan(decoded)).ok()) state.SkipWithError("decode failed");
  }
  SetBytes(state);
}
BENCHMARK(BM_Decode)->DenseRange(0, std::size(kCodecs) - 1);

}  // namespace
}  // namespace tributary

BENCHMARK_MAIN();
