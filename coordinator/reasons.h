// Why an update is rejected or a request refused: the keys of /api/status's
// rejected_by_reason and refused_by_reason, and the `reason` label of
// /metrics' tributary_updates_rejected_total and
// tributary_requests_refused_total. Spelled once here, and listed, so that
// /metrics can show every reason at 0 before it first happens: a Grafana
// panel over rate() of a series that does not exist yet shows "No data",
// not 0, and an alert on it never fires.
#ifndef TRIBUTARY_COORDINATOR_REASONS_H_
#define TRIBUTARY_COORDINATOR_REASONS_H_

#include <array>

namespace tributary::coordinator {

// An update that reached the run and was not applied.
namespace rejected {
inline constexpr char kLease[] = "lease";      // Its task's lease was not the worker's (any more).
inline constexpr char kInvalid[] = "invalid";  // Malformed, or lying about its task.
inline constexpr char kStale[] = "stale";      // Older than aggregation.max_staleness.
inline constexpr char kNorm[] = "norm";        // Its norm was an outlier (aggregation.norm_check_factor).
inline constexpr std::array<const char*, 4> kAll = {kLease, kInvalid, kStale, kNorm};
}  // namespace rejected

// A request refused before it reached the run (or the part of one it ignored).
namespace refused {
inline constexpr char kAuth[] = "auth";               // No valid session or join token.
inline constexpr char kRate[] = "rate";               // Over limits.requests_per_s or the join rates.
inline constexpr char kStreams[] = "streams";         // Over limits.max_streams_per_worker or the uploads in flight.
inline constexpr char kTooLarge[] = "too_large";      // An upload larger than the codec allows.
inline constexpr char kDeadline[] = "deadline";       // A stream cut for being too slow.
inline constexpr char kBanned[] = "banned";           // A join from a banned identity.
inline constexpr char kSessions[] = "sessions";       // Over limits.max_sessions_per_identity.
inline constexpr char kInvalid[] = "invalid";         // A join with a field out of bounds.
inline constexpr char kTimeBudget[] = "time_budget";  // A time report that cannot be true (ignored).
inline constexpr std::array<const char*, 9> kAll = {kAuth,   kRate,     kStreams, kTooLarge,  kDeadline,
                                                    kBanned, kSessions, kInvalid, kTimeBudget};
}  // namespace refused

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_REASONS_H_
