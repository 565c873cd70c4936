#include "common/time_budget.h"

namespace tributary {

using tributary::v1::TimeBudget;

absl::Span<const TimeBudgetField> TimeBudgetFields() {
  static constexpr TimeBudgetField kFields[] = {
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
  return kFields;
}

double WallSeconds(const TimeBudget& budget) {
  double wall = 0;
  for (const TimeBudgetField& field : TimeBudgetFields()) {
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
  for (const TimeBudgetField& field : TimeBudgetFields()) {
    (total.*field.set)((total.*field.get)() + (budget.*field.get)());
  }
}

}  // namespace tributary
