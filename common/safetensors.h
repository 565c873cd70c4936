// The safetensors format (https://github.com/huggingface/safetensors), which
// PyTorch, JAX and Hugging Face tools read:
//
//   u64 LE   N, the header's length
//   N bytes  JSON: {"__metadata__": {...}, "<name>": {"dtype": "F32",
//            "shape": [...], "data_offsets": [begin, end]}, ...}
//            (offsets relative to the data, which follows; padded with
//            spaces so the data starts 8-byte aligned)
//   data     the tensors' raw little-endian bytes, in layout order
#ifndef TRIBUTARY_COMMON_SAFETENSORS_H_
#define TRIBUTARY_COMMON_SAFETENSORS_H_

#include <map>
#include <string>

#include "absl/types/span.h"
#include "common/params.h"

namespace tributary {

// The model's tensors under their layout names, fp32.
std::string EncodeSafetensors(const ParamLayout& layout, absl::Span<const float> params,
                              const std::map<std::string, std::string>& metadata);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_SAFETENSORS_H_
