#include "worker/display.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"

namespace tributary::worker {
namespace {

// Long enough to smooth over a slow task, short enough to show a stall.
constexpr absl::Duration kRateWindow = absl::Seconds(5);
constexpr absl::Duration kRateResolution = absl::Milliseconds(100);
constexpr int kDefaultColumns = 80;

// The terminal's width now (read at every redraw, so a resized window is
// followed within one), less one column: a row written to its last column
// wraps on some terminals, and the redraw would land on the next row.
int StatusColumns() {
  winsize size{};
  const int columns = ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : kDefaultColumns;
  return columns - 1;
}

}  // namespace

DisplayMode ChooseDisplayMode(bool stderr_is_terminal, const char* term, bool quiet) {
  if (quiet) return DisplayMode::kQuiet;
  if (!stderr_is_terminal || term == nullptr || *term == '\0' || std::strcmp(term, "dumb") == 0) {
    return DisplayMode::kLines;
  }
  return DisplayMode::kStatusLine;
}

Display::Display(const DisplayOptions& options) : options_(options), rate_(kRateWindow, kRateResolution) {}

void Display::Start() {
  if (options_.mode == DisplayMode::kStatusLine) redraw_ = std::thread([this] { RedrawLoop(); });
}

Display::~Display() { Finish(); }

bool Display::task_lines() const {
  switch (options_.mode) {
    case DisplayMode::kLines:
      return true;
    case DisplayMode::kStatusLine:
      return options_.verbose;
    case DisplayMode::kQuiet:
      return false;
  }
  return false;
}

void Display::SetActivity(std::string activity) {
  absl::MutexLock lock(&mu_);
  status_.activity = std::move(activity);
}

void Display::Joined(const tributary::v1::ModelSpec& model) {
  absl::MutexLock lock(&mu_);
  status_.retry_at.reset();
  status_.rate_unit = model.has_gpt() ? "tok/s" : "ex/s";
  units_per_example_ = model.has_gpt() ? model.gpt().context() : 1;
  // A new session (perhaps a coordinator restarted from an older
  // checkpoint): its versions start where it stands, and a heartbeat of the
  // last session renewed none of its leases.
  status_.model_version = 0;
  renewed_at_.reset();
}

void Display::TaskStarted(const tributary::v1::Task& task, absl::Time leased_at) {
  absl::MutexLock lock(&mu_);
  status_.task_id = task.task_id();
  status_.shard_id = task.shard_id();
  status_.step = 0;
  status_.steps = 0;
  leased_at_ = leased_at;
  lease_length_ = absl::UnixEpoch() + absl::Seconds(task.lease_deadline_unix_s()) - leased_at;
}

void Display::StepDone(int64_t step, int64_t steps, const LossStats& stats) {
  absl::MutexLock lock(&mu_);
  status_.step = step;
  status_.steps = steps;
  if (stats.examples > 0) status_.loss = stats.mean_loss();
  units_ += stats.examples * units_per_example_;
}

void Display::TaskEnded(uint64_t task_id) {
  absl::MutexLock lock(&mu_);
  if (status_.task_id == task_id) status_.task_id = 0;
}

void Display::UploadStarted(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  status_.upload_sent = 0;
  status_.upload_total = bytes;
}

void Display::UploadProgress(int64_t sent) {
  absl::MutexLock lock(&mu_);
  status_.upload_sent = sent;
}

void Display::UploadEnded() {
  absl::MutexLock lock(&mu_);
  status_.upload_sent = status_.upload_total = 0;
}

void Display::TaskDone(uint64_t model_version) {
  absl::MutexLock lock(&mu_);
  ++status_.tasks_done;
  status_.model_version = std::max(status_.model_version, model_version);
  status_.retry_at.reset();
}

void Display::LeasesRenewed(absl::Time sent_at) {
  absl::MutexLock lock(&mu_);
  renewed_at_ = std::max(renewed_at_.value_or(sent_at), sent_at);
  status_.retry_at.reset();
}

bool Display::Unreachable(absl::Time retry_at) {
  absl::MutexLock lock(&mu_);
  return RetryingLocked(retry_at, /*busy=*/false);
}

bool Display::Busy(absl::Time retry_at) {
  absl::MutexLock lock(&mu_);
  return RetryingLocked(retry_at, /*busy=*/true);
}

bool Display::RetryingLocked(absl::Time retry_at, bool busy) {
  const bool first = !status_.retry_at.has_value() || status_.busy != busy;
  status_.retry_at = retry_at;
  status_.busy = busy;
  return options_.mode != DisplayMode::kStatusLine || options_.verbose || first;
}

void Display::Reachable() {
  absl::MutexLock lock(&mu_);
  status_.retry_at.reset();
}

WorkerStatus Display::StatusLocked() const {
  WorkerStatus status = status_;
  if (status.task_id != 0) {
    const absl::Time renewed = renewed_at_ ? std::max(*renewed_at_, leased_at_) : leased_at_;
    status.lease_deadline = renewed + lease_length_;
  }
  return status;
}

WorkerStatus Display::Status() {
  absl::MutexLock lock(&mu_);
  return StatusLocked();
}

void Display::Draw(absl::Time now, WorkerStatus status, int64_t units) {
  rate_.Record(now, units);
  status.rate = rate_.PerSecond(now);
  ShowStatusLine(FormatStatusLine(status, now, StatusColumns()));
}

void Display::RedrawLoop() {
  while (true) {
    WorkerStatus status;
    int64_t units = 0;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&finishing_), options_.redraw_interval)) return;
      status = StatusLocked();
      units = units_;
    }
    // Drawn unlocked: a slow terminal never holds up the training loop.
    Draw(absl::Now(), std::move(status), units);
  }
}

void Display::Finish() {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
  }
  if (!redraw_.joinable()) return;
  redraw_.join();
  WorkerStatus status;
  int64_t units = 0;
  {
    absl::MutexLock lock(&mu_);
    status = StatusLocked();
    units = units_;
  }
  Draw(absl::Now(), std::move(status), units);
  FinishStatusLine();
}

}  // namespace tributary::worker
