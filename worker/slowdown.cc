#include "worker/slowdown.h"

#include <time.h>

#include <algorithm>

namespace tributary::worker {

absl::Duration SlowdownWait(double slowdown, absl::Duration wall, absl::Duration cpu) {
  const absl::Duration idle = std::min(wall, cpu);
  return std::max(absl::ZeroDuration(), slowdown * idle - wall);
}

absl::Duration ProcessCpuTime() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return absl::DurationFromTimespec(t);
}

}  // namespace tributary::worker
