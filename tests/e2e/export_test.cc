// tributary-export, the binary, on checkpoints written here: each format's
// output, the Hugging Face directory against a re-implementation of
// transformers' GPT2LMHeadModel (tools/export/hf_gpt2_reference.py, which
// needs python3-torch; skipped without it), and bad input refused with the
// flag named.
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint.h"
#include "common/file.h"
#include "common/models/gpt.h"
#include "common/models/model.h"
#include "common/params.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";

struct Outcome {
  std::optional<int> exit_code;
  std::string log;
};

Outcome RunToEnd(const std::string& dir, const std::vector<std::string>& argv) {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(argv, dir + "/run.log");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  Outcome outcome;
  outcome.exit_code = (*p)->Wait(absl::Seconds(120));
  outcome.log = (*p)->Log();
  return outcome;
}

Outcome Export(const std::string& dir, const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {Binary("tributary-export")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return RunToEnd(dir, argv);
}

tributary::v1::GptSpec TinyGpt() {
  tributary::v1::GptSpec spec;
  spec.set_layers(2);
  spec.set_heads(2);
  spec.set_channels(16);
  spec.set_context(8);
  return spec;
}

// Weights large enough that every layer moves the logits (GPT-2's 0.02
// init would leave them nearly uniform and hide a misplaced tensor).
std::vector<float> RandomGptParams(const ParamLayout& layout) {
  std::mt19937 rng(20261125);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> params(layout.size());
  for (const TensorSpec& t : layout.tensors()) {
    const bool gain = t.name.find("ln_") != std::string::npos && t.name.find("weight") != std::string::npos;
    for (int64_t i = 0; i < t.size; ++i) params[t.offset + i] = gain ? 1 + 0.1f * normal(rng) : 0.3f * normal(rng);
  }
  return params;
}

// A checkpoint of `model` with `params`, written into dir/state; returns dir/state.
std::string WriteState(const std::string& dir, const tributary::v1::ModelSpec& model,
                       const std::vector<float>& params) {
  tributary::v1::Checkpoint checkpoint;
  checkpoint.mutable_job()->set_name("export-test");
  *checkpoint.mutable_job()->mutable_model() = model;
  checkpoint.set_model_version(42);
  checkpoint.set_params(FloatsToBytes(params));
  absl::StatusOr<std::string> path = WriteCheckpoint(dir + "/state", checkpoint);
  EXPECT_TRUE(path.ok()) << path.status();
  return dir + "/state";
}

struct GptState {
  std::string state_dir;
  std::vector<float> params;
};

GptState WriteGptState(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(TinyGpt());
  EXPECT_TRUE(model.ok());
  GptState s;
  s.params = RandomGptParams((*model)->layout());
  tributary::v1::ModelSpec spec;
  *spec.mutable_gpt() = TinyGpt();
  s.state_dir = WriteState(dir, spec, s.params);
  return s;
}

json SafetensorsHeader(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFile(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok() || file->size() < 8) return json();
  uint64_t n = 0;
  std::memcpy(&n, file->data(), 8);
  return json::parse(file->substr(8, n));
}

bool PythonHasTorch(const std::string& dir) {
  if (access(kPython, X_OK) != 0) return false;
  return RunToEnd(dir, {kPython, "-c", "import torch"}).exit_code == 0;
}

TEST(ExportTest, DefaultFormatIsSafetensorsInLinearLayout) {
  const std::string dir = TestDir("export-default");
  const GptState s = WriteGptState(dir);
  const Outcome o = Export(dir, {"--checkpoint=" + s.state_dir, "--out=" + dir + "/model.safetensors"});
  ASSERT_EQ(o.exit_code, 0) << o.log;
  EXPECT_THAT(o.log, HasSubstr("28 tensors"));
  const json header = SafetensorsHeader(dir + "/model.safetensors");
  EXPECT_EQ(header["h.0.attn.c_attn.weight"]["shape"], json::array({48, 16})) << "(out, in), as nn.Linear";
}

TEST(ExportTest, HfDirectoryComputesWhatOurModelComputes) {
  const std::string dir = TestDir("export-hf");
  const GptState s = WriteGptState(dir);
  const std::string out = dir + "/hf";
  const Outcome o = Export(dir, {"--checkpoint=" + s.state_dir, "--format=hf", "--out=" + out});
  ASSERT_EQ(o.exit_code, 0) << o.log;
  EXPECT_THAT(o.log, HasSubstr("GPT2LMHeadModel, 28 tensors"));
  const json header = SafetensorsHeader(out + "/model.safetensors");
  EXPECT_EQ(header["__metadata__"]["format"], "pt") << "from_pretrained refuses a file without it";
  EXPECT_EQ(header["__metadata__"]["tributary.model_version"], "42");
  EXPECT_EQ(header["transformer.h.0.attn.c_attn.weight"]["shape"], json::array({16, 48})) << "Conv1D: (in, out)";
  EXPECT_FALSE(header.contains("lm_head.weight")) << "tied to transformer.wte.weight";
  absl::StatusOr<std::string> config = ReadFile(out + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(json::parse(*config)["n_positions"], 8);
  EXPECT_TRUE(ReadFile(out + "/README.md").ok());

  if (!PythonHasTorch(dir)) {
    GTEST_SKIP() << "python3-torch is not installed (apt-get install python3-torch): the exported directory "
                    "was not run through tools/export/hf_gpt2_reference.py";
  }
  // Our logits at every position of 3 random records, and our loss on them.
  const int B = 3, T = TinyGpt().context();
  std::mt19937 rng(7);
  std::vector<uint8_t> records(B * (T + 1));
  for (uint8_t& r : records) r = static_cast<uint8_t>(rng());
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(TinyGpt(), {B, /*threads=*/1});
  ASSERT_TRUE(model.ok());
  std::vector<float> logits(B * T * GptModel::kVocab);
  for (int b = 0; b < B; ++b) {
    for (int t = 1; t <= T; ++t) {
      ASSERT_TRUE((*model)
                      ->NextByteLogits(s.params, absl::MakeConstSpan(records).subspan(b * (T + 1), t),
                                       absl::MakeSpan(logits).subspan((b * T + t - 1) * GptModel::kVocab,
                                                                      GptModel::kVocab))
                      .ok());
    }
  }
  const double loss = (*model)->Forward(s.params, records).value().mean_loss();
  WriteFile(dir + "/records.bin", std::string(records.begin(), records.end()));
  WriteFile(dir + "/logits.bin", FloatsToBytes(logits));
  const Outcome check =
      RunToEnd(dir, {kPython, absl::StrCat(TRIBUTARY_SOURCE_DIR, "/tools/export/hf_gpt2_reference.py"), out,
                     dir + "/records.bin", dir + "/logits.bin", absl::StrCat(loss)});
  EXPECT_EQ(check.exit_code, 0) << check.log;
  EXPECT_THAT(check.log, HasSubstr("modeling_gpt2.py re-implemented: max |logit difference|"));
  std::printf("%s", check.log.c_str());
}

TEST(ExportTest, LlmcFileIsTheHeaderAndEveryWeight) {
  const std::string dir = TestDir("export-llmc");
  const GptState s = WriteGptState(dir);
  const Outcome o = Export(dir, {"--checkpoint=" + s.state_dir, "--format=llmc", "--out=" + dir + "/model.bin"});
  ASSERT_EQ(o.exit_code, 0) << o.log;
  EXPECT_THAT(o.log, HasSubstr("llm.c checkpoint (maxT 8, V 256, Vp 256, L 2, NH 2, C 16)"));
  absl::StatusOr<std::string> file = ReadFile(dir + "/model.bin");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->size(), 256 * 4 + s.params.size() * 4) << "Vp = V = 256: no pad rows";
  int32_t header[8];
  std::memcpy(header, file->data(), sizeof(header));
  EXPECT_THAT(header, ::testing::ElementsAre(20240326, 3, 8, 256, 2, 2, 16, 256));
}

TEST(ExportTest, MissingCheckpointIsNamed) {
  const std::string dir = TestDir("export-missing");
  const Outcome o = Export(dir, {"--checkpoint=/nonexistent/state", "--format=llmc", "--out=" + dir + "/m.bin"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--checkpoint: /nonexistent/state"));
}

TEST(ExportTest, GptFormatsRefuseAnotherModel) {
  const std::string dir = TestDir("export-mlp");
  tributary::v1::ModelSpec mlp;
  mlp.mutable_mlp()->set_inputs(3);
  mlp.mutable_mlp()->add_hidden(4);
  mlp.mutable_mlp()->set_classes(2);
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(mlp);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string state = WriteState(dir, mlp, std::vector<float>((*model)->layout().size()));
  for (const std::string format : {"hf", "llmc"}) {
    const Outcome o = Export(dir, {"--checkpoint=" + state, "--format=" + format, "--out=" + dir + "/out"});
    EXPECT_EQ(o.exit_code, 1) << format;
    EXPECT_THAT(o.log, HasSubstr("--format=" + format + ": needs a gpt model; --checkpoint " + state));
  }
  EXPECT_EQ(Export(dir, {"--checkpoint=" + state, "--out=" + dir + "/mlp.safetensors"}).exit_code, 0)
      << "safetensors takes any model";
}

TEST(ExportTest, UnwritableOutIsNamed) {
  const std::string dir = TestDir("export-unwritable");
  const GptState s = WriteGptState(dir);
  WriteFile(dir + "/file", "a file, not a directory");
  const std::string below_a_file = dir + "/file/out";
  for (const std::string format : {"safetensors", "hf", "llmc"}) {
    const Outcome o = Export(dir, {"--checkpoint=" + s.state_dir, "--format=" + format, "--out=" + below_a_file});
    EXPECT_EQ(o.exit_code, 1) << format;
    EXPECT_THAT(o.log, HasSubstr("--out: cannot ")) << format;
    EXPECT_THAT(o.log, HasSubstr(below_a_file)) << format;
  }
}

TEST(ExportTest, BadFormatOrMissingOutIsNamed) {
  const std::string dir = TestDir("export-flags");
  const GptState s = WriteGptState(dir);
  Outcome o = Export(dir, {"--checkpoint=" + s.state_dir, "--format=onnx"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--format: must be safetensors, hf or llmc, got \"onnx\""));
  o = Export(dir, {"--checkpoint=" + s.state_dir, "--format=hf"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_THAT(o.log, HasSubstr("--out: required with --format=hf"));
}

}  // namespace
}  // namespace tributary::testing
