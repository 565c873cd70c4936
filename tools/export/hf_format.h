// A GPT checkpoint as a Hugging Face transformers directory that
// GPT2LMHeadModel.from_pretrained(dir) loads as it is (modeling_gpt2.py):
//
//   model.safetensors  GPT2LMHeadModel's state dict, fp32, metadata
//                      {"format": "pt"} (from_pretrained refuses a file
//                      without it): our tensors under "transformer." + our
//                      name, the four projection weights of each block
//                      (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)
//                      transposed to Conv1D's (in, out), e.g.
//                      transformer.h.0.attn.c_attn.weight (C, 3C).
//                      lm_head.weight is left out: it is tied to
//                      transformer.wte.weight, as save_pretrained leaves it
//                      out. The attn.bias / attn.masked_bias causal-mask
//                      buffers are not parameters and are not written.
//   config.json        GPT2Config: the sizes, gelu_new (GELU's tanh
//                      approximation, as common/models/layers.h), layer
//                      norm eps 1e-5, tied embeddings, no dropout.
//   README.md          the byte-level tokenizer: token = byte, no BPE.
//
// docs/EXPORT.md describes all of tributary-export's formats.
#ifndef TRIBUTARY_TOOLS_EXPORT_HF_FORMAT_H_
#define TRIBUTARY_TOOLS_EXPORT_HF_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/params.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

// GPT2LMHeadModel keeps GPT2Model under this attribute (its
// base_model_prefix), so its state dict names start with it.
inline constexpr char kHfPrefix[] = "transformer.";

// A model's tensors renamed and re-laid-out; params follow layout.
struct RenamedTensors {
  ParamLayout layout;
  std::vector<float> params;
};

// Our GPT's tensors (layout as common/models/gpt.h builds it, params of
// layout.size()) in GPT2LMHeadModel's names and layout. INVALID_ARGUMENT
// when params has the wrong size.
absl::StatusOr<RenamedTensors> ToHuggingFaceGpt2(const ParamLayout& layout, absl::Span<const float> params);

// config.json for a model of `spec`'s sizes.
std::string HuggingFaceGpt2Config(const tributary::v1::GptSpec& spec);

// README.md of the directory: what the model is and how to tokenize for it.
std::string HuggingFaceGpt2Readme(const tributary::v1::GptSpec& spec);

}  // namespace tributary

#endif  // TRIBUTARY_TOOLS_EXPORT_HF_FORMAT_H_
