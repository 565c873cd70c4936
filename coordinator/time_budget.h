// Where workers' wall time goes. With every update a worker reports a
// TimeBudget (proto/tributary/v1/coordinator.proto): seconds per phase since
// its previous update, the phases adding up to the wall time. Here: checking
// a report, summing reports, and a worker's recent utilization (compute
// time over wall time). The fields, wall time, utilization and sums are
// common/time_budget.h's.
//
// Pure functions and a value type; not thread-safe (the run serialises).
#ifndef TRIBUTARY_COORDINATOR_TIME_BUDGET_H_
#define TRIBUTARY_COORDINATOR_TIME_BUDGET_H_

#include <array>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/time_budget.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::coordinator {

// The most one report, or any field of it, may claim. A worker reports with
// every update, so an honest report covers seconds or minutes; a day is
// far beyond any of them and still bounds what one report adds to a sum.
inline constexpr double kMaxReportedSeconds = 24 * 3600;

// Reports a worker's recent utilization is taken over.
inline constexpr int kUtilizationWindow = 16;

// INVALID_ARGUMENT (naming the field) unless every field is finite, >= 0
// and at most kMaxReportedSeconds, and so is the wall time.
absl::Status CheckTimeBudget(const tributary::v1::TimeBudget& budget);

// INVALID_ARGUMENT (naming `where` and the field) unless every field is
// finite and >= 0: what sums of checked reports are, checked again when a
// checkpoint is read back.
absl::Status CheckTimeTotals(const tributary::v1::TimeBudget& total, absl::string_view where);

// The compute and wall time of a worker's last kUtilizationWindow reports.
class UtilizationWindow {
 public:
  void Add(const tributary::v1::TimeBudget& budget);
  // Compute over wall time in the window; nullopt before a report with
  // any wall time.
  std::optional<double> utilization() const;

 private:
  struct Report {
    double compute_s = 0;
    double wall_s = 0;
  };
  std::array<Report, kUtilizationWindow> reports_{};
  int next_ = 0;  // Where the next report goes, overwriting the oldest.
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_TIME_BUDGET_H_
