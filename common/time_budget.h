// The fields of a TimeBudget (proto/tributary/v1/coordinator.proto), walked
// the same way by the worker that measures one and the coordinator that
// checks and sums them: the phases, which add up to the wall time they
// cover, then the transfers, which overlap them.
#ifndef TRIBUTARY_COMMON_TIME_BUDGET_H_
#define TRIBUTARY_COMMON_TIME_BUDGET_H_

#include <optional>

#include "absl/types/span.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary {

struct TimeBudgetField {
  const char* name;  // The proto field's name.
  double (tributary::v1::TimeBudget::*get)() const;
  void (tributary::v1::TimeBudget::*set)(double);
  bool phase;  // Part of the wall time (not an overlapping transfer).
};

// compute, encode, download, upload, wait_task, wait_apply, other (the
// phases, in this order), then download_transfer and upload_transfer.
absl::Span<const TimeBudgetField> TimeBudgetFields();

// The wall time a budget covers: its phases added up.
double WallSeconds(const tributary::v1::TimeBudget& budget);

// compute_s / wall time, in [0, 1]; nullopt when the wall time is 0.
std::optional<double> Utilization(const tributary::v1::TimeBudget& budget);

// Adds `budget` to `total`, field by field.
void AddTimeBudget(const tributary::v1::TimeBudget& budget, tributary::v1::TimeBudget& total);

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_TIME_BUDGET_H_
