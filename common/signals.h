// SIGINT, SIGTERM and SIGHUP taken synchronously: block them in every
// thread, then poll for them from one place, instead of acting inside a
// signal handler. What SIGHUP means is the caller's: the coordinator reloads
// its join tokens; a worker leaves, as for the others.
#ifndef TRIBUTARY_COMMON_SIGNALS_H_
#define TRIBUTARY_COMMON_SIGNALS_H_

#include "absl/time/time.h"

namespace tributary {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and in every thread it
// starts afterwards. Call first thing in main().
void BlockTerminationSignals();

// Waits up to `timeout` for SIGINT, SIGTERM or SIGHUP; returns it, or 0 if
// none came.
int WaitForTerminationSignal(absl::Duration timeout);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_SIGNALS_H_
