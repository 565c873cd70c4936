#include "common/optim/delay_stability.h"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

namespace tributary {

double DelayedMomentumSpectralRadius(double a, double beta, int delay) {
  // State: x_t, x_{t-1}, ..., x_{t-delay}, m_t.
  const int n = delay + 2, m = delay + 1;
  Eigen::MatrixXd step = Eigen::MatrixXd::Zero(n, n);
  step(m, m) = beta;
  step(m, delay) += (1 - beta) * a;
  step.row(0) = -step.row(m);
  step(0, 0) += 1;
  for (int i = 1; i <= delay; ++i) step(i, i - 1) = 1;
  return step.eigenvalues().cwiseAbs().maxCoeff();
}

double StableCurvature(double beta, int delay) {
  // Stable near a = 0; walk up in factors of 2 to the first unstable a,
  // then bisect.
  double lo = 1e-3, hi = 2e-3;
  while (DelayedMomentumSpectralRadius(hi, beta, delay) < 1) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1e-6 * lo) {
    const double mid = (lo + hi) / 2;
    (DelayedMomentumSpectralRadius(mid, beta, delay) < 1 ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace tributary
