// Renders the run's state as the JSON documents of the status endpoint
// (SPEC §9). Field names here are a contract: tools outside the code read them.
#ifndef TRIBUTARY_COORDINATOR_STATUS_JSON_H_
#define TRIBUTARY_COORDINATOR_STATUS_JSON_H_

#include <vector>

#include "coordinator/blob_counters.h"
#include "coordinator/ledger.h"
#include "coordinator/run.h"
#include "nlohmann/json.hpp"

namespace tributary::coordinator {

// GET /api/status
nlohmann::json StatusJson(const RunStatus& status);

// GET /api/history: parallel arrays, one entry per point.
nlohmann::json HistoryJson(const std::vector<HistoryPoint>& history);

// GET /api/ledger: the audit of every work item.
nlohmann::json LedgerJson(const std::vector<WorkItem>& items);

// /api/status's "blobs": {served: {model, delta, shard}, bytes_sent,
// not_found, bad_request} (GET /blobs/, blob_http.h).
nlohmann::json BlobStatsJson(const BlobStats& stats);

// GET /api/blobs: {digests: [{sha256, kind, serves}]}, the recent digests
// first served first (bounded by BlobCounters).
nlohmann::json BlobServesJson(const std::vector<DigestServes>& serves);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_STATUS_JSON_H_
