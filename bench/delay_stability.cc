// Prints, as a Markdown table, the largest curvature (lr x preconditioned
// sharpness) a momentum optimizer stays stable at when every gradient is d
// steps stale (common/optim/delay_stability.h), for Adam's usual betas and
// the staleness of 1, 2, 4 and 8 asynchronous workers.
//
//   build/bin/delay_stability
#include <cstdio>

#include "common/optim/delay_stability.h"

int main() {
  constexpr double kBetas[] = {0.0, 0.5, 0.9, 0.95, 0.99};
  constexpr int kDelays[] = {0, 1, 3, 7};
  std::printf("| beta1 |");
  for (int d : kDelays) std::printf(" delay %d |", d);
  std::printf(" delay 7 / delay 0 |\n|---|");
  for (int i = 0; i <= static_cast<int>(sizeof(kDelays) / sizeof(kDelays[0])); ++i) std::printf("---|");
  std::printf("\n");
  for (double beta : kBetas) {
    std::printf("| %.2f |", beta);
    for (int d : kDelays) std::printf(" %.3g |", tributary::StableCurvature(beta, d));
    std::printf(" 1/%.0f |\n", tributary::StableCurvature(beta, 0) / tributary::StableCurvature(beta, 7));
  }
  return 0;
}
