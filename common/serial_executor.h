// Runs tasks one at a time, in the order posted, on a thread of its own.
//
// The coordinator's service posts each finished upload here, so decoding
// and applying it never occupy one of gRPC's threads: heartbeats and task
// requests keep being served while updates are applied, and uploads that
// arrive together wait in this queue instead of in gRPC's thread pool
// (they are applied one at a time anyway: the run serialises applies).
//
// The destructor runs what is still queued, then joins. Thread-safe.
#ifndef TRIBUTARY_COMMON_SERIAL_EXECUTOR_H_
#define TRIBUTARY_COMMON_SERIAL_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tributary {

class SerialExecutor {
 public:
  SerialExecutor();
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void Post(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks posted and not yet started.
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !tasks_.empty(); }

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: started once the rest is.
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_SERIAL_EXECUTOR_H_
