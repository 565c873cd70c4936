// llm.c's checkpoint file: the header train_gpt2.c checks, and every
// tensor where its fill_in_parameter_sizes puts it.
#include "tools/export/llmc_format.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/models/gpt.h"
#include "gtest/gtest.h"
#include "tests/common/models/test_specs.h"

namespace tributary {
namespace {

struct File {
  std::vector<int32_t> header;
  std::vector<float> params;
};

File Parse(const std::string& bytes) {
  File f;
  f.header.resize(kLlmcHeaderInts);
  std::memcpy(f.header.data(), bytes.data(), kLlmcHeaderInts * sizeof(int32_t));
  f.params.resize((bytes.size() - kLlmcHeaderInts * sizeof(int32_t)) / sizeof(float));
  std::memcpy(f.params.data(), bytes.data() + kLlmcHeaderInts * sizeof(int32_t), f.params.size() * sizeof(float));
  return f;
}

std::vector<float> Iota(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST(LlmcFormatTest, VocabIsPaddedToAMultipleOf128) {
  EXPECT_EQ(LlmcPaddedVocab(256), 256);
  EXPECT_EQ(LlmcPaddedVocab(50257), 50304) << "GPT-2's, as train_gpt2.py pads it";
  EXPECT_EQ(LlmcPaddedVocab(1), 128);
  EXPECT_EQ(LlmcPaddedVocab(128), 128);
  EXPECT_EQ(LlmcPaddedVocab(129), 256);
}

TEST(LlmcFormatTest, HeaderIsWhatGpt2BuildFromCheckpointReads) {
  tributary::v1::GptSpec spec = TestGptSpec(3, 2, 8, 5);
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(spec);
  ASSERT_TRUE(model.ok());
  absl::StatusOr<std::string> bytes = EncodeLlmcCheckpoint(spec, std::vector<float>((*model)->layout().size()));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const File f = Parse(*bytes);
  // magic, version, maxT, V, L, NH, C, Vp
  const std::vector<int32_t> expected_start = {20240326, 3, 5, 256, 3, 2, 8, 256};
  EXPECT_EQ(std::vector<int32_t>(f.header.begin(), f.header.begin() + 8), expected_start);
  for (int i = 8; i < kLlmcHeaderInts; ++i) EXPECT_EQ(f.header[i], 0) << i;
}

// Offsets from train_gpt2.c's fill_in_parameter_sizes, independently of the
// writer: each tensor's block holds all layers, layer l at l * its size.
TEST(LlmcFormatTest, TensorsAreGroupedByKindAcrossLayersInLlmcsOrder) {
  const int L = 2, C = 4, T = 3, Vp = 256;
  tributary::v1::GptSpec spec = TestGptSpec(L, 2, C, T);
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(spec);
  ASSERT_TRUE(model.ok());
  const ParamLayout& layout = (*model)->layout();
  const std::vector<float> params = Iota(layout.size());
  absl::StatusOr<std::string> bytes = EncodeLlmcCheckpoint(spec, params);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const File f = Parse(*bytes);

  struct Kind {
    const char* name;  // Ours inside block l; llm.c: ln1w, ln1b, qkvw, qkvb, ...
    int64_t per_layer;
  };
  const std::vector<Kind> kinds = {
      {"ln_1.weight", C},
      {"ln_1.bias", C},
      {"attn.c_attn.weight", 3 * C * C},
      {"attn.c_attn.bias", 3 * C},
      {"attn.c_proj.weight", C * C},
      {"attn.c_proj.bias", C},
      {"ln_2.weight", C},
      {"ln_2.bias", C},
      {"mlp.c_fc.weight", 4 * C * C},
      {"mlp.c_fc.bias", 4 * C},
      {"mlp.c_proj.weight", C * 4 * C},
      {"mlp.c_proj.bias", C},
  };
  auto ours = [&](const std::string& name) {
    for (const TensorSpec& t : layout.tensors()) {
      if (t.name == name) return std::vector<float>(params.begin() + t.offset, params.begin() + t.offset + t.size);
    }
    ADD_FAILURE() << "no tensor " << name;
    return std::vector<float>();
  };
  auto at = [&](int64_t offset, int64_t n) {
    return std::vector<float>(f.params.begin() + offset, f.params.begin() + offset + n);
  };

  int64_t offset = 0;
  EXPECT_EQ(at(offset, 256 * C), ours("wte.weight"));
  offset += Vp * C;
  EXPECT_EQ(at(offset, T * C), ours("wpe.weight"));
  offset += T * C;
  for (const Kind& kind : kinds) {
    for (int l = 0; l < L; ++l) {
      EXPECT_EQ(at(offset + l * kind.per_layer, kind.per_layer), ours(absl::StrCat("h.", l, ".", kind.name)))
          << kind.name << " of layer " << l;
    }
    offset += L * kind.per_layer;
  }
  EXPECT_EQ(at(offset, C), ours("ln_f.weight"));
  EXPECT_EQ(at(offset + C, C), ours("ln_f.bias"));
  EXPECT_EQ(static_cast<int64_t>(f.params.size()), offset + 2 * C) << "nothing after lnfb";
}

TEST(LlmcFormatTest, WrongNumberOfWeightsIsRejected) {
  absl::StatusOr<std::string> bytes = EncodeLlmcCheckpoint(TestGptSpec(1, 2, 4, 3), std::vector<float>(7));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LlmcFormatTest, InvalidSizesAreRejected) {
  absl::StatusOr<std::string> bytes = EncodeLlmcCheckpoint(TestGptSpec(1, 3, 4, 3), std::vector<float>(7));
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("heads"), std::string::npos) << bytes.status();
}

}  // namespace
}  // namespace tributary
