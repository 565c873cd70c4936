// Drawing the next token from a model's logits: temperature, top-k, and a
// seeded generator, so a sample is reproducible.
#ifndef TRIBUTARY_COMMON_MODELS_SAMPLING_H_
#define TRIBUTARY_COMMON_MODELS_SAMPLING_H_

#include <random>

#include "absl/types/span.h"

namespace tributary {

struct SamplingOptions {
  // Logits are divided by it; 0 picks the most likely token (greedy).
  double temperature = 0.8;
  // Only the k most likely tokens may be drawn; 0 = all.
  int top_k = 40;
};

// The index of the drawn token. Ties in top-k go to the lower index.
int SampleToken(absl::Span<const float> logits, const SamplingOptions& options, std::mt19937_64& rng);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_SAMPLING_H_
