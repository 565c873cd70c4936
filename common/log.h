// One small logging helper: levels, timestamps, one line per event, written
// to stderr with a single write so lines from threads never interleave.
//
//   TLOG(INFO) << "worker " << id << " joined";
//
// Levels: INFO for the story of a run, NOTICE for the few lines a quiet
// process still prints (a final summary), WARNING and ERROR for problems.
//
// On a terminal a process may keep a status line at the bottom of stderr
// (ShowStatusLine): log lines then print above it, never through it.
//
// Never log tokens or other secrets.
#ifndef TRIBUTARY_COMMON_LOG_H_
#define TRIBUTARY_COMMON_LOG_H_

#include <cstddef>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace tributary {

enum class LogLevel { kInfo, kNotice, kWarning, kError };

// Lines below `level` are dropped (default: kInfo, everything). For tests
// that drive a core through thousands of events. Thread-safe.
void SetMinLogLevel(LogLevel level);

// The status line: one row kept below the log on a terminal, redrawn in
// place ("\r", the text, erase to the end of the row). While one is shown,
// each log line clears it, prints, and draws it again, in the same single
// write, so the two never interleave. `line` must fit the terminal's width
// (no wrap, or the redraw no longer lands on one row); control characters
// in it are replaced. Only for a stderr that is a terminal. Thread-safe.
void ShowStatusLine(absl::string_view line);

// Ends the status line: it stays on screen as last drawn, followed by a
// newline; log lines print below it again. No-op when none is shown.
void FinishStatusLine();

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
#define TLOG_LEVEL_NOTICE ::tributary::LogLevel::kNotice
#define TLOG_LEVEL_WARNING ::tributary::LogLevel::kWarning
#define TLOG_LEVEL_ERROR ::tributary::LogLevel::kError
#define TLOG(level) ::tributary::LogMessage(TLOG_LEVEL_##level, __FILE__, __LINE__)

#endif  // TRIBUTARY_COMMON_LOG_H_
