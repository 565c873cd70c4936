#include "coordinator/grpc_log.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "grpc/support/log.h"

namespace tributary::coordinator {
namespace {

// The window gRPC's lines are counted in; the hook has no other home.
struct LogWindow {
  absl::Mutex mu;
  int64_t second ABSL_GUARDED_BY(mu) = 0;
  int lines ABSL_GUARDED_BY(mu) = 0;
  int64_t dropped ABSL_GUARDED_BY(mu) = 0;
};

LogWindow& Window() {
  static LogWindow* window = new LogWindow;
  return *window;
}

void LogGrpcLine(gpr_log_func_args* args) {
  int64_t dropped = 0;
  {
    LogWindow& window = Window();
    absl::MutexLock lock(&window.mu);
    const int64_t second = absl::ToUnixSeconds(absl::Now());
    if (second != window.second) {
      window.second = second;
      window.lines = 0;
    }
    if (++window.lines > kMaxGrpcLogLinesPerSecond) {
      ++window.dropped;
      return;
    }
    dropped = window.dropped;
    window.dropped = 0;
  }
  std::string line = absl::StrCat("grpc ", args->file, ":", args->line, ": ", SafeText(args->message, 300));
  if (dropped > 0) {
    absl::StrAppend(&line, " (", dropped, " earlier lines dropped: over ", kMaxGrpcLogLinesPerSecond, "/s)");
  }
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    TLOG(ERROR) << line;
  } else {
    TLOG(INFO) << line;
  }
}

}  // namespace

void RouteGrpcLogs() { gpr_set_log_function(&LogGrpcLine); }

}  // namespace tributary::coordinator
