#include "tools/export/hf_format.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/models/gpt.h"
#include "nlohmann/json.hpp"

namespace tributary {
namespace {

// GPT2Block's Linear-like layers are Conv1D, weight (in, out): the 2-D
// tensors inside a block. wte and wpe are embeddings, (rows, C) in both.
bool IsConv1DWeight(const TensorSpec& t) { return absl::StartsWith(t.name, "h.") && t.shape.size() == 2; }

}  // namespace

absl::StatusOr<RenamedTensors> ToHuggingFaceGpt2(const ParamLayout& layout, absl::Span<const float> params) {
  if (static_cast<int64_t>(params.size()) != layout.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("GPT weights: expected ", layout.size(), " floats, got ", params.size()));
  }
  RenamedTensors out;
  out.params.resize(params.size());
  for (int i = 0; i < static_cast<int>(layout.tensors().size()); ++i) {
    const TensorSpec& t = layout.tensor(i);
    if (!IsConv1DWeight(t)) {
      const int index = out.layout.Add(kHfPrefix + t.name, t.shape);
      out.layout.Vector(absl::MakeSpan(out.params), index) = layout.Vector(params, i);
      continue;
    }
    // Ours is (out, in), as torch.nn.Linear; Conv1D computes x @ W + b.
    const int index = out.layout.Add(kHfPrefix + t.name, {t.shape[1], t.shape[0]});
    out.layout.Matrix(absl::MakeSpan(out.params), index) = layout.Matrix(params, i).transpose();
  }
  return out;
}

std::string HuggingFaceGpt2Config(const tributary::v1::GptSpec& spec) {
  nlohmann::ordered_json config = {
      {"model_type", "gpt2"},
      {"architectures", {"GPT2LMHeadModel"}},
      {"vocab_size", GptModel::kVocab},
      {"n_positions", spec.context()},
      {"n_ctx", spec.context()},
      {"n_embd", spec.channels()},
      {"n_layer", spec.layers()},
      {"n_head", spec.heads()},
      {"n_inner", nullptr},  // 4 * n_embd, as ours.
      // GELU's tanh approximation, as common/models/layers.cc computes it
      // ("gelu" would be the exact erf form).
      {"activation_function", "gelu_new"},
      {"layer_norm_epsilon", 1e-5},
      // Tributary trains without dropout.
      {"resid_pdrop", 0.0},
      {"embd_pdrop", 0.0},
      {"attn_pdrop", 0.0},
      {"initializer_range", 0.02},
      {"scale_attn_weights", true},
      {"scale_attn_by_inverse_layer_idx", false},
      {"reorder_and_upcast_attn", false},
      {"tie_word_embeddings", true},
      // Bytes have no special tokens. An empty prompt starts from '\n', as
      // tributary-sample's does; nothing marks the end of a text.
      {"bos_token_id", int{'\n'}},
      {"eos_token_id", nullptr},
      {"use_cache", true},
      {"torch_dtype", "float32"},
  };
  return config.dump(2) + "\n";
}

std::string HuggingFaceGpt2Readme(const tributary::v1::GptSpec& spec) {
  constexpr char kTemplate[] = R"(# A byte-level GPT-2 trained with Tributary

GPT-2 architecture ($L layers, $H heads, $C channels, a $T-byte context) over
bytes, in Hugging Face transformers' layout; written by
`tributary-export --format=hf`. Load it with

```python
from transformers import GPT2LMHeadModel
model = GPT2LMHeadModel.from_pretrained("THIS_DIRECTORY")
```

## Tokenizer: token = byte

There is no tokenizer file because there is nothing to look up: the
vocabulary is the 256 byte values, token id = byte value. No BPE, no merges,
no special tokens. Encode text as its UTF-8 bytes and decode the bytes back:

```python
import torch
ids = torch.tensor([list("Q: Why".encode("utf-8"))])
out = model.generate(ids, max_new_tokens=100, do_sample=True, top_k=40)
print(bytes(out[0].tolist()).decode("utf-8", errors="replace"))
loss = model(ids, labels=ids).loss  # nats per byte, as Tributary reports
```

- Prompt plus new tokens must fit in the context (`n_positions` = $T bytes):
  the position embeddings end there.
- `bos_token_id` is 10 (`\n`): an empty prompt starts from a newline, as
  `tributary-sample`'s does. There is no end-of-text token
  (`eos_token_id` is null), so give `generate` a `max_new_tokens`.
- A multi-byte UTF-8 character is several tokens; a sample can stop inside
  one, hence `errors="replace"`.
)";
  return absl::StrReplaceAll(kTemplate, {{"$L", absl::StrCat(spec.layers())},
                                         {"$H", absl::StrCat(spec.heads())},
                                         {"$C", absl::StrCat(spec.channels())},
                                         {"$T", absl::StrCat(spec.context())}});
}

}  // namespace tributary
