#include "common/optim/adamw.h"

#include <cmath>
#include <utility>

#include "common/params.h"

namespace tributary {

AdamW::AdamW(const AdamWOptions& options, int64_t size)
    : options_(options), m_(size, 0.0f), v_(size, 0.0f) {}

void AdamW::Step(absl::Span<float> params, absl::Span<const float> grads, float lr) {
  ++t_;
  const float b1 = options_.beta1, b2 = options_.beta2;
  const float m_scale = 1.0f / (1.0f - std::pow(b1, static_cast<float>(t_)));
  const float v_scale = 1.0f / (1.0f - std::pow(b2, static_cast<float>(t_)));
  VectorMap w(params.data(), params.size()), m(m_.data(), m_.size()), v(v_.data(), v_.size());
  ConstVectorMap g(grads.data(), grads.size());
  m = b1 * m + (1 - b1) * g;
  v = b2 * v + (1 - b2) * g.cwiseAbs2();
  w.array() -= lr * ((m.array() * m_scale) / ((v.array() * v_scale).sqrt() + options_.eps) +
                     options_.weight_decay * w.array());
}

void AdamW::Restore(std::vector<float> m, std::vector<float> v, int64_t steps) {
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = steps;
}

double ClipGradNorm(absl::Span<float> grads, double max_norm) {
  VectorMap g(grads.data(), grads.size());
  const double norm = g.cast<double>().norm();
  if (norm > max_norm) g *= static_cast<float>(max_norm / norm);
  return norm;
}

}  // namespace tributary
