// Writes the fuzzers' seed corpora: fuzz_write_seeds DIR fills
// DIR/{codec,job_spec,checkpoint,upload}/ with small valid inputs, the same
// bytes on every run. tools/fuzz.sh --write_seeds regenerates
// tests/fuzz/corpus/ with it; each fuzzer's header describes its input.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/checkpoint.h"
#include "common/codec/bytes.h"
#include "common/codec/codec.h"
#include "common/codec/model_delta.h"
#include "common/file.h"
#include "common/job_spec.h"
#include "common/params.h"
#include "tests/fuzz/codec_cases.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::fuzz {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::vector<float> Gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> values(n);
  for (float& v : values) v = normal(rng);
  return values;
}

void WriteCodecSeeds(const fs::path& dir) {
  const ParamLayout layout = CodecFuzzLayout();
  const std::vector<CodecCase> cases = CodecFuzzCases();
  const std::vector<float> update = Gaussian(layout.size(), 1);
  for (size_t i = 0; i < cases.size(); ++i) {
    std::unique_ptr<Codec> codec = *CreateCodec(cases[i].spec, layout);
    Write(dir, cases[i].name, std::string(1, static_cast<char>(i)) + codec->NewEncoder()->Encode(update));
  }
  const std::vector<float> base = Gaussian(layout.size(), 2);
  Write(dir, "model-delta", std::string(1, static_cast<char>(cases.size())) + EncodeModelDelta(update, base));
}

void WriteJobSpecSeeds(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(fs::path(TRIBUTARY_SOURCE_DIR) / "deploy/jobs")) {
    Write(dir, entry.path().filename().string(), *ReadFile(entry.path().string()));
  }
}

tributary::v1::Checkpoint TinyCheckpoint() {
  tributary::v1::Checkpoint checkpoint;
  *checkpoint.mutable_job() = *ParseJobSpec(
      "name: \"tiny\" model { mlp { inputs: 4 hidden: 3 classes: 2 } } budget { epochs: 1 }", "tiny");
  const std::vector<float> params = Gaussian(4 * 3 + 3 + 3 * 2 + 2, 3);
  checkpoint.set_params(FloatsToBytes(params));
  checkpoint.set_model_version(5);
  checkpoint.set_samples_processed(640);
  tributary::v1::RunState* run = checkpoint.mutable_run();
  run->mutable_aggregator()->set_version(5);
  run->mutable_aggregator()->add_recent_norms(0.5);
  tributary::v1::LedgerState* ledger = run->mutable_ledger();
  ledger->set_next_task_id(6);
  for (uint32_t shard = 0; shard < 3; ++shard) {
    tributary::v1::LedgerItemState* item = ledger->add_items();
    item->set_shard(shard);
    item->set_state(shard == 0 ? tributary::v1::LedgerItemState::DONE : tributary::v1::LedgerItemState::PENDING);
    if (shard > 0) ledger->add_pending(shard);
  }
  tributary::v1::WorkerSnapshot* worker = run->add_workers();
  worker->set_id("w1");
  worker->set_name("alice");
  worker->set_state(tributary::v1::WorkerSnapshot::ACTIVE);
  worker->set_tasks_done(5);
  return checkpoint;
}

void WriteCheckpointSeeds(const fs::path& dir) {
  const tributary::v1::Checkpoint checkpoint = TinyCheckpoint();
  Write(dir, "tiny-file", std::string(1, '\0') + *EncodeCheckpointFile(checkpoint));
  Write(dir, "tiny-body", std::string(1, '\1') + checkpoint.SerializeAsString());
  // As checkpoints before WorkerSnapshot.State wrote a worker's state.
  tributary::v1::Checkpoint named = checkpoint;
  tributary::v1::WorkerSnapshot* worker = named.mutable_run()->mutable_workers(0);
  worker->clear_state();
  worker->set_state_name("active");
  Write(dir, "tiny-body-state-name", std::string(1, '\1') + named.SerializeAsString());
}

// Framing as upload_fuzzer.cc reads it.
std::string UploadMaxBytes(size_t max_bytes) {
  return {static_cast<char>(max_bytes & 0xff), static_cast<char>(max_bytes >> 8 & 0xff),
          static_cast<char>(max_bytes >> 16 & 0xff)};
}
void AppendChunk(const tributary::v1::SubmitUpdateChunk& chunk, std::string* out) {
  const std::string bytes = chunk.SerializeAsString();
  AppendVarint(bytes.size() * 2, out);
  *out += bytes;
}
void AppendFill(size_t n, std::string* out) { AppendVarint(n * 2 + 1, out); }

tributary::v1::SubmitUpdateChunk Header(uint64_t encoded_bytes) {
  tributary::v1::SubmitUpdateChunk chunk;
  tributary::v1::UpdateHeader* header = chunk.mutable_header();
  header->set_task_id(7);
  header->set_base_version(3);
  header->set_codec("none");
  header->set_encoded_bytes(encoded_bytes);
  header->set_loss(2.5f);
  header->set_examples(32);
  header->set_shard_id(4);
  return chunk;
}

void WriteUploadSeeds(const fs::path& dir) {
  std::string small = UploadMaxBytes(4096);
  AppendChunk(Header(100), &small);
  tributary::v1::SubmitUpdateChunk data;
  data.set_data(std::string(100, 'x'));
  AppendChunk(data, &small);
  Write(dir, "one-chunk", small);

  // Three chunks of an honest worker's size, the last one short.
  std::string chunked = UploadMaxBytes(200000);
  AppendChunk(Header(150000), &chunked);
  AppendFill(65536, &chunked);
  AppendFill(65536, &chunked);
  AppendFill(150000 - 2 * 65536, &chunked);
  Write(dir, "three-chunks", chunked);
}

}  // namespace
}  // namespace tributary::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  tributary::fuzz::WriteCodecSeeds(dir / "codec");
  tributary::fuzz::WriteJobSpecSeeds(dir / "job_spec");
  tributary::fuzz::WriteCheckpointSeeds(dir / "checkpoint");
  tributary::fuzz::WriteUploadSeeds(dir / "upload");
  return 0;
}
