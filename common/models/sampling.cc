#include "common/models/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tributary {

int SampleToken(absl::Span<const float> logits, const SamplingOptions& options, std::mt19937_64& rng) {
  const int n = static_cast<int>(logits.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  if (options.temperature <= 0) return order[0];
  const int k = options.top_k > 0 ? std::min(options.top_k, n) : n;
  std::vector<double> weights(k);
  for (int i = 0; i < k; ++i) {
    weights[i] = std::exp((static_cast<double>(logits[order[i]]) - logits[order[0]]) / options.temperature);
  }
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  return order[pick(rng)];
}

}  // namespace tributary
