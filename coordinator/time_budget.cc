#include "coordinator/time_budget.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::TimeBudget;

bool FiniteNonNegative(double seconds) { return std::isfinite(seconds) && seconds >= 0; }

}  // namespace

absl::Status CheckTimeTotals(const TimeBudget& total, absl::string_view where) {
  for (const TimeBudgetField& field : TimeBudgetFields()) {
    const double seconds = (total.*field.get)();
    if (!FiniteNonNegative(seconds)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": time.", field.name, " is ", seconds));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTimeBudget(const TimeBudget& budget) {
  for (const TimeBudgetField& field : TimeBudgetFields()) {
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
