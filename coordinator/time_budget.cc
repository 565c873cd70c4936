#include "coordinator/time_budget.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::TimeBudget;

struct Field {
  const char* name;
  double (TimeBudget::*get)() const;
  void (TimeBudget::*set)(double);
  bool phase;  // Part of the wall time (not an overlapping transfer).
};

constexpr Field kFields[] = {
    {"compute_s", &TimeBudget::compute_s, &TimeBudget::set_compute_s, true},
    {"encode_s", &TimeBudget::encode_s, &TimeBudget::set_encode_s, true},
    {"download_s", &TimeBudget::download_s, &TimeBudget::set_download_s, true},
    {"upload_s", &TimeBudget::upload_s, &TimeBudget::set_upload_s, true},
    {"wait_task_s", &TimeBudget::wait_task_s, &TimeBudget::set_wait_task_s, true},
    {"wait_apply_s", &TimeBudget::wait_apply_s, &TimeBudget::set_wait_apply_s, true},
    {"other_s", &TimeBudget::other_s, &TimeBudget::set_other_s, true},
    {"download_transfer_s", &TimeBudget::download_transfer_s, &TimeBudget::set_download_transfer_s, false},
    {"upload_transfer_s", &TimeBudget::upload_transfer_s, &TimeBudget::set_upload_transfer_s, false},
};

bool FiniteNonNegative(double seconds) { return std::isfinite(seconds) && seconds >= 0; }

}  // namespace

absl::Status CheckTimeTotals(const TimeBudget& total, absl::string_view where) {
  for (const Field& field : kFields) {
    const double seconds = (total.*field.get)();
    if (!FiniteNonNegative(seconds)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": time.", field.name, " is ", seconds));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTimeBudget(const TimeBudget& budget) {
  for (const Field& field : kFields) {
    const double seconds = (budget.*field.get)();
    if (!FiniteNonNegative(seconds) || seconds > kMaxReportedSeconds) {
      return absl::InvalidArgumentError(absl::StrCat("time budget: ", field.name, " is ", seconds, " s"));
    }
  }
  if (const double wall = WallSeconds(budget); wall > kMaxReportedSeconds) {
    return absl::InvalidArgumentError(absl::StrCat("time budget: the phases add up to ", wall, " s"));
  }
  return absl::OkStatus();
}

double WallSeconds(const TimeBudget& budget) {
  double wall = 0;
  for (const Field& field : kFields) {
    if (field.phase) wall += (budget.*field.get)();
  }
  return wall;
}

std::optional<double> Utilization(const TimeBudget& budget) {
  const double wall = WallSeconds(budget);
  if (!(wall > 0)) return std::nullopt;
  return budget.compute_s() / wall;
}

void AddTimeBudget(const TimeBudget& budget, TimeBudget& total) {
  for (const Field& field : kFields) (total.*field.set)((total.*field.get)() + (budget.*field.get)());
}

void UtilizationWindow::Add(const TimeBudget& budget) {
  reports_[next_] = Report{budget.compute_s(), WallSeconds(budget)};
  next_ = (next_ + 1) % kUtilizationWindow;
}

std::optional<double> UtilizationWindow::utilization() const {
  double compute = 0;
  double wall = 0;
  for (const Report& report : reports_) {
    compute += report.compute_s;
    wall += report.wall_s;
  }
  if (!(wall > 0)) return std::nullopt;
  return compute / wall;
}

}  // namespace tributary::coordinator
