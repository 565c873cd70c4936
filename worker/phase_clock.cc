#include "worker/phase_clock.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tributary::worker {
namespace {

// Each phase's field of the budget, with its name in log lines.
struct PhaseField {
  Phase phase;
  const char* name;
  double (tributary::v1::TimeBudget::*get)() const;
  void (tributary::v1::TimeBudget::*set)(double);
};

constexpr PhaseField kFields[] = {
    {Phase::kCompute, "compute", &tributary::v1::TimeBudget::compute_s, &tributary::v1::TimeBudget::set_compute_s},
    {Phase::kEncode, "encode", &tributary::v1::TimeBudget::encode_s, &tributary::v1::TimeBudget::set_encode_s},
    {Phase::kDownload, "download", &tributary::v1::TimeBudget::download_s,
     &tributary::v1::TimeBudget::set_download_s},
    {Phase::kUpload, "upload", &tributary::v1::TimeBudget::upload_s, &tributary::v1::TimeBudget::set_upload_s},
    {Phase::kWaitTask, "wait for task", &tributary::v1::TimeBudget::wait_task_s,
     &tributary::v1::TimeBudget::set_wait_task_s},
    {Phase::kWaitApply, "wait for apply", &tributary::v1::TimeBudget::wait_apply_s,
     &tributary::v1::TimeBudget::set_wait_apply_s},
    {Phase::kOther, "other", &tributary::v1::TimeBudget::other_s, &tributary::v1::TimeBudget::set_other_s},
};

const PhaseField& FieldOf(Phase phase) {
  return *std::find_if(std::begin(kFields), std::end(kFields),
                        [phase](const PhaseField& f) { return f.phase == phase; });
}

}  // namespace

PhaseClock::PhaseClock(absl::Time now, Phase phase) : phase_(phase), since_(now) {}

void PhaseClock::ChargeLocked(absl::Time now) {
  const double seconds = std::max(0.0, absl::ToDoubleSeconds(now - since_));
  const PhaseField& field = FieldOf(phase_);
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

double WallSeconds(const tributary::v1::TimeBudget& budget) {
  double sum = 0;
  for (const PhaseField& field : kFields) sum += (budget.*field.get)();
  return sum;
}

std::string FormatBudget(const tributary::v1::TimeBudget& budget) {
  std::vector<std::string> parts;
  for (const PhaseField& field : kFields) {
    const double seconds = (budget.*field.get)();
    if (seconds >= 0.0005) parts.push_back(absl::StrFormat("%s %.0f ms", field.name, seconds * 1e3));
  }
  const double wall = WallSeconds(budget);
  return absl::StrFormat("%s (utilization %.0f %%)", absl::StrJoin(parts, ", "),
                         wall > 0 ? 100 * budget.compute_s() / wall : 0.0);
}

}  // namespace tributary::worker
