// GET /metrics: the run's counters and gauges in the Prometheus text
// exposition format (version 0.0.4), every name prefixed tributary_, each
// with HELP and TYPE. Labels stay bounded: reasons and states are the
// code's own fixed sets, and there is no per-worker label (a run may have
// thousands of workers; per-worker detail is on /api/status) unless the
// job asks for it (monitoring.per_worker_metrics): then one series per
// worker record in memory, which the registry bounds.
//
// A pure function of one RunStatus snapshot: values that are not known yet
// (no evaluation so far, no time report) are left out, not written as NaN.
#ifndef TRIBUTARY_COORDINATOR_METRICS_H_
#define TRIBUTARY_COORDINATOR_METRICS_H_

#include <string>

#include "coordinator/blob_counters.h"
#include "coordinator/run.h"

namespace tributary::coordinator {

inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

std::string PrometheusText(const RunStatus& status);

// GET /blobs/'s counters (blob_http.h): tributary_blob_requests_total by
// kind and result, tributary_blob_bytes_sent_total. Appended to the above.
std::string BlobPrometheusText(const BlobStats& stats);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_METRICS_H_
