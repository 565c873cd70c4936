#include "tools/export/llmc_format.h"

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/models/gpt.h"

namespace tributary {
namespace {

// The per-layer tensors in llm.c's order (ParameterTensors, train_gpt2.c).
constexpr const char* kBlockTensors[] = {
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
    "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias",
};

void AppendFloats(std::string& out, absl::Span<const float> values) {
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// The floats of the tensor called `name` (a name in common/models/gpt.h).
absl::Span<const float> Tensor(const ParamLayout& layout, absl::Span<const float> params, const std::string& name) {
  for (const TensorSpec& t : layout.tensors()) {
    if (t.name == name) return params.subspan(t.offset, t.size);
  }
  return {};  // Not a GPT layout: EncodeLlmcCheckpoint's final size check fails.
}

std::string Header(const tributary::v1::GptSpec& spec) {
  std::vector<int32_t> header(kLlmcHeaderInts, 0);
  header[0] = kLlmcMagic;
  header[1] = kLlmcVersion;
  header[2] = spec.context();
  header[3] = GptModel::kVocab;
  header[4] = spec.layers();
  header[5] = spec.heads();
  header[6] = spec.channels();
  header[7] = LlmcPaddedVocab(GptModel::kVocab);
  std::string out(header.size() * sizeof(int32_t), '\0');
  std::memcpy(out.data(), header.data(), out.size());
  return out;
}

}  // namespace

int LlmcPaddedVocab(int vocab) { return (vocab + kLlmcVocabMultiple - 1) / kLlmcVocabMultiple * kLlmcVocabMultiple; }

absl::StatusOr<std::string> EncodeLlmcCheckpoint(const tributary::v1::GptSpec& spec, absl::Span<const float> params) {
  absl::StatusOr<std::unique_ptr<GptModel>> model = GptModel::Create(spec);
  if (!model.ok()) return model.status();
  const ParamLayout& layout = (*model)->layout();
  if (static_cast<int64_t>(params.size()) != layout.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("GPT weights: expected ", layout.size(), " floats, got ", params.size()));
  }
  const int64_t C = spec.channels();
  const int64_t pad_rows = LlmcPaddedVocab(GptModel::kVocab) - GptModel::kVocab;
  std::string out = Header(spec);
  const size_t expected = out.size() + (layout.size() + pad_rows * C) * sizeof(float);
  out.reserve(expected);
  AppendFloats(out, Tensor(layout, params, "wte.weight"));
  out.append(pad_rows * C * sizeof(float), '\0');  // 0.0f is all zero bytes.
  AppendFloats(out, Tensor(layout, params, "wpe.weight"));
  for (const char* suffix : kBlockTensors) {
    for (int l = 0; l < spec.layers(); ++l) {
      AppendFloats(out, Tensor(layout, params, absl::StrCat("h.", l, ".", suffix)));
    }
  }
  AppendFloats(out, Tensor(layout, params, "ln_f.weight"));
  AppendFloats(out, Tensor(layout, params, "ln_f.bias"));
  if (out.size() != expected) {
    return absl::InternalError(absl::StrCat("llm.c export: wrote ", out.size(), " bytes, expected ", expected));
  }
  return out;
}

}  // namespace tributary
