// Log lines and the terminal's status line sharing stderr: what reaches the
// terminal, byte for byte, with stderr a pipe read back by the test.
#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

// Points stderr at a pipe for the test's life; Take() returns what was written.
class CapturedStderr {
 public:
  CapturedStderr() {
    EXPECT_EQ(pipe(fds_), 0);
    fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    saved_ = dup(STDERR_FILENO);
    dup2(fds_[1], STDERR_FILENO);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string Take() {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(fds_[0], buffer, sizeof(buffer))) > 0;) out.append(buffer, n);
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
  int saved_ = -1;
};

// Timestamps and source lines vary: "<T> I file:line] text" -> "I] text".
std::string WithoutPrefixes(const std::string& s) {
  static const std::regex kPrefix(R"(\d{4}-\d\d-\d\dT[\d:.]+Z ([INWE]) \S+:\d+\] )");
  return std::regex_replace(s, kPrefix, "$1] ");
}

TEST(LogTest, ALogLineClearsTheStatusLineAndRedrawsItBelow) {
  CapturedStderr err;
  ShowStatusLine("task 1 | 10 ex/s");
  TLOG(INFO) << "joined";
  ShowStatusLine("task 2 | 12 ex/s");
  FinishStatusLine();
  TLOG(WARNING) << "after";
  EXPECT_EQ(WithoutPrefixes(err.Take()),
            "\rtask 1 | 10 ex/s\033[K"
            "\r\033[KI] joined\ntask 1 | 10 ex/s"
            "\rtask 2 | 12 ex/s\033[K"
            "\n"
            "W] after\n");
}

TEST(LogTest, AnUnchangedStatusLineIsNotRedrawn) {
  CapturedStderr err;
  ShowStatusLine("same");
  ShowStatusLine("same");
  FinishStatusLine();
  FinishStatusLine();
  EXPECT_EQ(err.Take(), "\rsame\033[K\n");
}

TEST(LogTest, TheStatusLineCannotCarryControlCharacters) {
  CapturedStderr err;
  ShowStatusLine("a\nb\033[2Jc");
  FinishStatusLine();
  EXPECT_EQ(err.Take(), "\ra?b?[2Jc\033[K\n");
}

TEST(LogTest, NoticeIsBetweenInfoAndWarning) {
  CapturedStderr err;
  SetMinLogLevel(LogLevel::kNotice);
  TLOG(INFO) << "dropped";
  TLOG(NOTICE) << "summary";
  TLOG(WARNING) << "problem";
  SetMinLogLevel(LogLevel::kInfo);
  EXPECT_EQ(WithoutPrefixes(err.Take()), "N] summary\nW] problem\n");
}

}  // namespace
}  // namespace tributary
