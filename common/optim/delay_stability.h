// How much curvature a momentum optimizer tolerates when its gradients are
// stale. The model is the textbook one for edge-of-stability analysis: one
// direction of curvature h, preconditioned step lr, and the optimizer's
// momentum written as Adam writes it (an exponential average):
//
//   m_{t+1} = b m_t + (1 - b) a x_{t-d}        (a = lr h)
//   x_{t+1} = x_t - m_{t+1}
//
// where the gradient is taken at the weights of d steps ago: an update that
// arrives with staleness d. StableCurvature(b, d) is the largest a for which
// the recurrence does not blow up. Without delay it is 2 (1 + b) / (1 - b)
// (38 for Adam's b = 0.9), the bound that training at the edge of stability
// sits on; with b = 0 it is 2 sin(pi / (2 (2d + 1))). See docs/BENCHMARKS.md
// (issue 5) for what the numbers mean for asynchronous AdamW.
#ifndef TRIBUTARY_COMMON_OPTIM_DELAY_STABILITY_H_
#define TRIBUTARY_COMMON_OPTIM_DELAY_STABILITY_H_

namespace tributary {

// Spectral radius of the recurrence above for one a (< 1: stable).
double DelayedMomentumSpectralRadius(double a, double beta, int delay);

// The stability bound on a, to a relative precision of 1e-6. Requires
// 0 <= beta < 1 and 0 <= delay <= 64.
double StableCurvature(double beta, int delay);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_OPTIM_DELAY_STABILITY_H_
