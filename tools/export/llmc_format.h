// A GPT checkpoint as llm.c's model file (karpathy/llm.c, train_gpt2.c:
// gpt2_build_from_checkpoint reads it; train_gpt2.py's write_model writes
// it), so train_gpt2.c can continue training from it. Little-endian:
//
//   int32 header[256]  [0] 20240326 magic  [1] 3 version (fp32, padded vocab)
//                      [2] maxT  [3] V  [4] L  [5] NH  [6] C  [7] Vp
//                      [8..255] 0
//   float32 params     16 tensors, each one over all layers at once:
//     wte      (Vp, C)      V rows, then Vp - V rows of zeros
//     wpe      (maxT, C)
//     ln1w     (L, C)       ln1b   (L, C)
//     qkvw     (L, 3C, C)   qkvb   (L, 3C)
//     attprojw (L, C, C)    attprojb (L, C)
//     ln2w     (L, C)       ln2b   (L, C)
//     fcw      (L, 4C, C)   fcb    (L, 4C)
//     fcprojw  (L, C, 4C)   fcprojb (L, C)
//     lnfw     (C)          lnfb   (C)
//
// Weights are (out, in), as llm.c's matmul_forward and ours hold them, so
// the conversion only regroups tensors and pads the vocabulary.
#ifndef TRIBUTARY_TOOLS_EXPORT_LLMC_FORMAT_H_
#define TRIBUTARY_TOOLS_EXPORT_LLMC_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tributary/v1/job.pb.h"

namespace tributary {

inline constexpr int32_t kLlmcMagic = 20240326;
inline constexpr int32_t kLlmcVersion = 3;
inline constexpr int kLlmcHeaderInts = 256;
// train_gpt2.py pads the vocabulary to a multiple of 128 ("for efficiency
// in C"): GPT-2's 50257 becomes 50304. Ours, 256, already is one.
inline constexpr int kLlmcVocabMultiple = 128;

// `vocab` rounded up to a multiple of kLlmcVocabMultiple.
int LlmcPaddedVocab(int vocab);

// The file for a GPT of `spec`'s sizes with weights `params` (in the
// layout common/models/gpt.h builds for it). INVALID_ARGUMENT when spec
// is out of range or params has the wrong size.
absl::StatusOr<std::string> EncodeLlmcCheckpoint(const tributary::v1::GptSpec& spec, absl::Span<const float> params);

}  // namespace tributary

#endif  // TRIBUTARY_TOOLS_EXPORT_LLMC_FORMAT_H_
