// One small logging helper: levels, timestamps, one line per event, written
// to stderr with a single write so lines from threads never interleave.
//
//   TLOG(INFO) << "worker " << id << " joined";
//
// Never log tokens or other secrets.
#ifndef TRIBUTARY_COMMON_LOG_H_
#define TRIBUTARY_COMMON_LOG_H_

#include <cstddef>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace tributary {

enum class LogLevel { kInfo, kWarning, kError };

// Lines below `level` are dropped (default: kInfo, everything). For tests
// that drive a core through thousands of events. Thread-safe.
void SetMinLogLevel(LogLevel level);

// Text a client sent (a name, a codec), fit for a log line, an error
// message or a page: at most `max_bytes` of it, non-printable bytes
// escaped, and the length noted when cut. Log lines also replace control
// characters themselves, as a last line of defence.
std::string SafeText(absl::string_view text, size_t max_bytes = 64);

// Collects one line and emits it when destroyed.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  template <typename T>
  LogMessage& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  bool enabled_;
  std::ostringstream stream_;
};

}  // namespace tributary

#define TLOG_LEVEL_INFO ::tributary::LogLevel::kInfo
#define TLOG_LEVEL_WARNING ::tributary::LogLevel::kWarning
#define TLOG_LEVEL_ERROR ::tributary::LogLevel::kError
#define TLOG(level) ::tributary::LogMessage(TLOG_LEVEL_##level, __FILE__, __LINE__)

#endif  // TRIBUTARY_COMMON_LOG_H_
