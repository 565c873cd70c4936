// --test_slowdown: how long a worker made F times slower than its machine
// waits after computing a task, for experiments with workers of different
// speeds (bench/convergence.cc's heterogeneous runs).
//
// The task's time on an idle machine is estimated as the lesser of its
// wall time and its CPU time: with several threads on idle cores the wall
// time is the smaller, with one thread on cores shared by other workers
// (benchmarks run eight on two) the CPU time is, and the wall time
// stretched by that sharing must not be multiplied by F as well.
#ifndef TRIBUTARY_WORKER_SLOWDOWN_H_
#define TRIBUTARY_WORKER_SLOWDOWN_H_

#include "absl/time/time.h"

namespace tributary::worker {

// The wait after a task that took `wall` and `cpu` (process CPU time), so
// that it ends `slowdown` times its idle-machine time after it began; zero
// at a slowdown of 1.
absl::Duration SlowdownWait(double slowdown, absl::Duration wall, absl::Duration cpu);

// The process's CPU time so far (all threads).
absl::Duration ProcessCpuTime();

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_SLOWDOWN_H_
