#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tributary {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};

// Back to the start of the row, then erase to its end.
constexpr absl::string_view kClearRow = "\r\033[K";

// stderr, shared by log lines and the status line. Held across the write so
// a log line and a redraw never cross; a write to a terminal is brief.
struct Stderr {
  absl::Mutex mu;
  bool status_shown ABSL_GUARDED_BY(mu) = false;
  std::string status_line ABSL_GUARDED_BY(mu);
};

Stderr& SharedStderr() {
  static Stderr* const stderr_state = new Stderr;  // Never destroyed: threads may log during exit.
  return *stderr_state;
}

// One write; a short write to stderr is not worth retrying.
void Write(absl::string_view bytes) { [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, bytes.data(), bytes.size()); }

// Control characters (a newline in a worker's name) cannot forge a line.
std::string WithoutControls(std::string text) {
  for (char& c : text) {
    if (absl::ascii_iscntrl(c)) c = '?';
  }
  return text;
}

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kNotice:
      return 'N';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

// "coordinator/run.cc" rather than the build machine's absolute path.
const char* ShortPath(const char* file) {
  for (const char* dir : {"/common/", "/coordinator/", "/worker/", "/tests/", "/bench/"}) {
    if (const char* p = std::strstr(file, dir)) return p + 1;
  }
  return file;
}

}  // namespace

void SetMinLogLevel(LogLevel level) { min_level = level; }

void ShowStatusLine(absl::string_view line) {
  const std::string text = WithoutControls(std::string(line));
  Stderr& out = SharedStderr();
  absl::MutexLock lock(&out.mu);
  if (out.status_shown && out.status_line == text) return;
  // Erasing after the text rather than before it: no blank row flickers.
  Write(absl::StrCat("\r", text, "\033[K"));
  out.status_shown = true;
  out.status_line = text;
}

void FinishStatusLine() {
  Stderr& out = SharedStderr();
  absl::MutexLock lock(&out.mu);
  if (!out.status_shown) return;
  Write("\n");
  out.status_shown = false;
  out.status_line.clear();
}

std::string SafeText(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return absl::CHexEscape(text);
  return absl::StrCat(absl::CHexEscape(text.substr(0, max_bytes)), "...(", text.size(), " bytes)");
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : enabled_(level >= min_level.load()) {
  if (!enabled_) return;
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()) << ' '
          << LevelLetter(level) << ' ' << ShortPath(file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  if (!enabled_) return;
  std::string text = WithoutControls(stream_.str());
  text.push_back('\n');
  Stderr& out = SharedStderr();
  absl::MutexLock lock(&out.mu);
  // Above the status line: clear its row, print, draw it again below.
  Write(out.status_shown ? absl::StrCat(kClearRow, text, out.status_line) : text);
}

}  // namespace tributary
