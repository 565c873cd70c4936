#include "coordinator/rules.h"

#include <algorithm>
#include <cmath>

#include "common/parallel.h"
#include "common/params.h"

namespace tributary::coordinator {
namespace {

// Calls f(j, values) for each coordinate j with the K updates' values at j
// (in a scratch buffer f may reorder), threads splitting the coordinates.
template <typename F>
void PerCoordinate(int threads, const Updates& updates, int64_t n, F f) {
  const int64_t k = static_cast<int64_t>(updates.size());
  ParallelFor(threads, n, 4 * k, [&](int64_t begin, int64_t end) {
    std::vector<float> values(k);
    for (int64_t j = begin; j < end; ++j) {
      for (int64_t i = 0; i < k; ++i) values[i] = updates[i][j];
      f(j, values);
    }
  });
}

}  // namespace

void MeanRule(const Updates& updates, absl::Span<float> out) {
  VectorMap o(out.data(), out.size());
  o.setZero();
  for (const auto& u : updates) o += ConstVectorMap(u.data(), u.size());
  o /= static_cast<float>(updates.size());
}

void TrimmedMeanRule(int threads, const Updates& updates, int trim, absl::Span<float> out) {
  const int k = static_cast<int>(updates.size());
  PerCoordinate(threads, updates, out.size(), [&](int64_t j, std::vector<float>& v) {
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (int i = trim; i < k - trim; ++i) sum += v[i];
    out[j] = static_cast<float>(sum / (k - 2 * trim));
  });
}

void MedianRule(int threads, const Updates& updates, absl::Span<float> out) {
  const size_t k = updates.size();
  PerCoordinate(threads, updates, out.size(), [&](int64_t j, std::vector<float>& v) {
    std::nth_element(v.begin(), v.begin() + k / 2, v.end());
    const float upper = v[k / 2];
    if (k % 2 == 1) {
      out[j] = upper;
      return;
    }
    const float lower = *std::max_element(v.begin(), v.begin() + k / 2);
    out[j] = 0.5f * (lower + upper);
  });
}

void CenteredClipRule(const Updates& updates, absl::Span<const float> center, double tau, int iterations,
                      absl::Span<float> out) {
  const int64_t n = out.size();
  VectorMap v(out.data(), n);
  v = ConstVectorMap(center.data(), n);
  Eigen::VectorXf step(n);
  for (int it = 0; it < iterations; ++it) {
    step.setZero();
    for (const auto& u : updates) {
      const ConstVectorMap ui(u.data(), n);
      const double distance = (ui - v).cast<double>().norm();
      const float scale = distance > tau ? static_cast<float>(tau / distance) : 1.0f;
      step += scale * (ui - v);
    }
    v += step / static_cast<float>(updates.size());
  }
}

}  // namespace tributary::coordinator
