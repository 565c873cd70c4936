#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tributary {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return 'I';
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
  // Control characters (a newline in a worker's name) cannot forge a line.
  std::string text = stream_.str();
  for (char& c : text) {
    if (absl::ascii_iscntrl(c)) c = '?';
  }
  text.push_back('\n');
  // One write per line; a short write to stderr is not worth retrying.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
}

}  // namespace tributary
