// Our GPT in Hugging Face transformers' GPT-2 layout: names, shapes and
// the Conv1D transposes, checked against what modeling_gpt2.py builds.
#include "tools/export/hf_format.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/models/gpt.h"
#include "gtest/gtest.h"
#include "tests/common/models/test_specs.h"
#include "nlohmann/json.hpp"

namespace tributary {
namespace {

using nlohmann::json;

ParamLayout GptLayout(const tributary::v1::GptSpec& spec) {
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(spec);
  EXPECT_TRUE(model.ok()) << model.status();
  return (*model)->layout();
}

// Every float different, so a misplaced one shows.
std::vector<float> Iota(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

// GPT2LMHeadModel(config).state_dict() for n_layer = 2, n_embd = C,
// n_positions = T, vocab 256, spelled out from modeling_gpt2.py: nn.Embedding
// is (num, dim), Conv1D(nf, nx).weight is (nx, nf), nn.LayerNorm (C). Less
// lm_head.weight (tied to wte) and the attn.bias / attn.masked_bias buffers
// (registered persistent=False, so not in the state dict).
std::vector<std::pair<std::string, std::vector<int64_t>>> Gpt2LmHeadStateDict(int64_t C, int64_t T) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> keys = {{"transformer.wte.weight", {256, C}},
                                                                    {"transformer.wpe.weight", {T, C}}};
  for (int l = 0; l < 2; ++l) {
    const std::string h = absl::StrCat("transformer.h.", l, ".");
    keys.insert(keys.end(), {{h + "ln_1.weight", {C}},
                             {h + "ln_1.bias", {C}},
                             {h + "attn.c_attn.weight", {C, 3 * C}},  // Conv1D(3C, C)
                             {h + "attn.c_attn.bias", {3 * C}},
                             {h + "attn.c_proj.weight", {C, C}},  // Conv1D(C, C)
                             {h + "attn.c_proj.bias", {C}},
                             {h + "ln_2.weight", {C}},
                             {h + "ln_2.bias", {C}},
                             {h + "mlp.c_fc.weight", {C, 4 * C}},  // Conv1D(n_inner, C)
                             {h + "mlp.c_fc.bias", {4 * C}},
                             {h + "mlp.c_proj.weight", {4 * C, C}},  // Conv1D(C, n_inner)
                             {h + "mlp.c_proj.bias", {C}}});
  }
  keys.insert(keys.end(), {{"transformer.ln_f.weight", {C}}, {"transformer.ln_f.bias", {C}}});
  return keys;
}

TEST(HfFormatTest, NamesAndShapesAreGpt2LmHeadModelsStateDict) {
  const ParamLayout ours = GptLayout(TestGptSpec(2, 2, 8, 5));
  absl::StatusOr<RenamedTensors> hf = ToHuggingFaceGpt2(ours, Iota(ours.size()));
  ASSERT_TRUE(hf.ok()) << hf.status();
  std::vector<std::pair<std::string, std::vector<int64_t>>> got;
  for (const TensorSpec& t : hf->layout.tensors()) got.emplace_back(t.name, t.shape);
  EXPECT_EQ(got, Gpt2LmHeadStateDict(8, 5));
  EXPECT_EQ(hf->layout.size(), ours.size());
}

TEST(HfFormatTest, BlockWeightsAreTransposedToConv1D) {
  const ParamLayout ours = GptLayout(TestGptSpec(1, 2, 4, 3));
  const std::vector<float> params = Iota(ours.size());
  absl::StatusOr<RenamedTensors> hf = ToHuggingFaceGpt2(ours, params);
  ASSERT_TRUE(hf.ok()) << hf.status();
  for (const char* name : {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}) {
    const std::string our_name = absl::StrCat("h.0.", name);
    int ours_index = -1, hf_index = -1;
    for (size_t i = 0; i < ours.tensors().size(); ++i) {
      if (ours.tensor(i).name == our_name) ours_index = i;
      if (hf->layout.tensor(i).name == kHfPrefix + our_name) hf_index = i;
    }
    ASSERT_GE(ours_index, 0);
    ASSERT_GE(hf_index, 0);
    const ConstMatrixMap w = ours.Matrix(params, ours_index);             // (out, in)
    const ConstMatrixMap conv = hf->layout.Matrix(hf->params, hf_index);  // (in, out)
    ASSERT_EQ(conv.rows(), w.cols()) << name;
    ASSERT_EQ(conv.cols(), w.rows()) << name;
    for (int i = 0; i < w.rows(); ++i) {
      for (int j = 0; j < w.cols(); ++j) ASSERT_EQ(conv(j, i), w(i, j)) << name << " [" << i << "," << j << "]";
    }
  }
}

TEST(HfFormatTest, EmbeddingsNormsAndBiasesAreCopiedAsTheyAre) {
  const ParamLayout ours = GptLayout(TestGptSpec(1, 2, 4, 3));
  const std::vector<float> params = Iota(ours.size());
  absl::StatusOr<RenamedTensors> hf = ToHuggingFaceGpt2(ours, params);
  ASSERT_TRUE(hf.ok()) << hf.status();
  for (size_t i = 0; i < ours.tensors().size(); ++i) {
    const TensorSpec& t = ours.tensor(i);
    if (t.name.rfind("h.", 0) == 0 && t.shape.size() == 2) continue;  // Conv1D weights.
    EXPECT_EQ(hf->layout.tensor(i).shape, t.shape) << t.name;
    EXPECT_EQ(hf->layout.Vector(hf->params, i), ours.Vector(params, i)) << t.name;
  }
}

TEST(HfFormatTest, WrongNumberOfWeightsIsRejected) {
  const ParamLayout ours = GptLayout(TestGptSpec(1, 2, 4, 3));
  absl::StatusOr<RenamedTensors> hf = ToHuggingFaceGpt2(ours, std::vector<float>(ours.size() - 1));
  EXPECT_EQ(hf.status().code(), absl::StatusCode::kInvalidArgument);
}

// The fields GPT2Config and GPT2LMHeadModel read, with the values that make
// transformers compute what our model computes.
TEST(HfFormatTest, ConfigDescribesOurGpt) {
  const json config = json::parse(HuggingFaceGpt2Config(TestGptSpec(3, 4, 64, 32)));
  EXPECT_EQ(config["model_type"], "gpt2");
  EXPECT_EQ(config["architectures"], json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(config["vocab_size"], 256);
  EXPECT_EQ(config["n_positions"], 32);
  EXPECT_EQ(config["n_ctx"], 32);
  EXPECT_EQ(config["n_embd"], 64);
  EXPECT_EQ(config["n_layer"], 3);
  EXPECT_EQ(config["n_head"], 4);
  EXPECT_TRUE(config["n_inner"].is_null()) << "GPT2Block: None means 4 * n_embd";
  EXPECT_EQ(config["activation_function"], "gelu_new") << "ACT2FN: gelu_new is the tanh approximation";
  EXPECT_DOUBLE_EQ(config["layer_norm_epsilon"].get<double>(), 1e-5);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["scale_attn_weights"], true);
  EXPECT_EQ(config["scale_attn_by_inverse_layer_idx"], false);
  EXPECT_EQ(config["reorder_and_upcast_attn"], false);
  for (const char* dropout : {"resid_pdrop", "embd_pdrop", "attn_pdrop"}) {
    EXPECT_EQ(config[dropout], 0.0) << dropout;
  }
  EXPECT_EQ(config["bos_token_id"], 10) << "a byte: '\\n'";
  EXPECT_TRUE(config["eos_token_id"].is_null()) << "bytes have no end-of-text token";
}

TEST(HfFormatTest, ReadmeExplainsTheByteTokenizer) {
  const std::string readme = HuggingFaceGpt2Readme(TestGptSpec(3, 4, 64, 32));
  EXPECT_NE(readme.find("3 layers, 4 heads, 64 channels, a 32-byte context"), std::string::npos) << readme;
  EXPECT_NE(readme.find("token id = byte value"), std::string::npos) << readme;
  EXPECT_NE(readme.find(".encode(\"utf-8\")"), std::string::npos) << readme;
  EXPECT_EQ(readme.find('$'), std::string::npos) << "every placeholder filled in:\n" << readme;
}

}  // namespace
}  // namespace tributary
