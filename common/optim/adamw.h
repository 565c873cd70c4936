// AdamW (Loshchilov & Hutter): Adam with bias correction and decoupled
// weight decay, over one flat parameter vector. Owns the moment estimates;
// the learning rate of each step comes from the caller's schedule.
//
//   m = b1 m + (1 - b1) g            v = b2 v + (1 - b2) g^2
//   m^ = m / (1 - b1^t)              v^ = v / (1 - b2^t)
//   w -= lr (m^ / (sqrt(v^) + eps) + wd w)
//
// Pure and deterministic; not thread-safe.
#ifndef TRIBUTARY_COMMON_OPTIM_ADAMW_H_
#define TRIBUTARY_COMMON_OPTIM_ADAMW_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace tributary {

struct AdamWOptions {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

class AdamW {
 public:
  AdamW(const AdamWOptions& options, int64_t size);

  // One step on `params` with gradient `grads` (same size as the optimizer).
  void Step(absl::Span<float> params, absl::Span<const float> grads, float lr);

  int64_t steps() const { return t_; }
  absl::Span<const float> first_moment() const { return m_; }
  absl::Span<const float> second_moment() const { return v_; }
  // Continues from saved moments and step count (a resumed run). The
  // caller checks the sizes against size().
  void Restore(std::vector<float> m, std::vector<float> v, int64_t steps);
  int64_t size() const { return static_cast<int64_t>(m_.size()); }

 private:
  AdamWOptions options_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// Scales `grads` in place so its L2 norm is at most `max_norm` (> 0).
// Returns the norm before clipping.
double ClipGradNorm(absl::Span<float> grads, double max_norm);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_OPTIM_ADAMW_H_
