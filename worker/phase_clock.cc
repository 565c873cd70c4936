#include "worker/phase_clock.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tributary::worker {
namespace {

// Each phase's field: the phases come first in TimeBudgetFields(), in the
// order of the Phase enum.
const TimeBudgetField& FieldOf(Phase phase) { return TimeBudgetFields()[static_cast<size_t>(phase)]; }

// What log lines call each phase, in the same order.
constexpr const char* kLabels[] = {"compute", "encode", "download", "upload", "wait for task", "wait for apply",
                                   "other"};

}  // namespace

PhaseClock::PhaseClock(absl::Time now, Phase phase) : phase_(phase), since_(now) {}

void PhaseClock::ChargeLocked(absl::Time now) {
  const double seconds = std::max(0.0, absl::ToDoubleSeconds(now - since_));
  const TimeBudgetField& field = FieldOf(phase_);
  (budget_.*field.set)((budget_.*field.get)() + seconds);
  since_ = std::max(since_, now);
}

Phase PhaseClock::Enter(Phase phase, absl::Time now) {
  absl::MutexLock lock(&mu_);
  ChargeLocked(now);
  return std::exchange(phase_, phase);
}

void PhaseClock::AddDownloadTransfer(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  budget_.set_download_transfer_s(budget_.download_transfer_s() + absl::ToDoubleSeconds(d));
}

void PhaseClock::AddUploadTransfer(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  budget_.set_upload_transfer_s(budget_.upload_transfer_s() + absl::ToDoubleSeconds(d));
}

tributary::v1::TimeBudget PhaseClock::Take(absl::Time now) {
  absl::MutexLock lock(&mu_);
  ChargeLocked(now);
  return std::exchange(budget_, {});
}

std::string FormatBudget(const tributary::v1::TimeBudget& budget) {
  std::vector<std::string> parts;
  for (const Phase phase : {Phase::kCompute, Phase::kEncode, Phase::kDownload, Phase::kUpload, Phase::kWaitTask,
                            Phase::kWaitApply, Phase::kOther}) {
    const double seconds = (budget.*FieldOf(phase).get)();
    if (seconds >= 0.0005) {
      parts.push_back(absl::StrFormat("%s %.0f ms", kLabels[static_cast<size_t>(phase)], seconds * 1e3));
    }
  }
  return absl::StrFormat("%s (utilization %.0f %%)", absl::StrJoin(parts, ", "),
                         100 * Utilization(budget).value_or(0));
}

}  // namespace tributary::worker
