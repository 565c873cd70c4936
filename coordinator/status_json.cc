#include "coordinator/status_json.h"

#include <optional>
#include <string>

#include "common/sha256.h"
#include "coordinator/time_budget.h"

namespace tributary::coordinator {
namespace {

using nlohmann::json;

json OrNull(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

// Seconds per phase (TimeBudget in proto/tributary/v1/coordinator.proto).
json TimeBudgetJson(const tributary::v1::TimeBudget& t) {
  return {
      {"compute_s", t.compute_s()},
      {"encode_s", t.encode_s()},
      {"download_s", t.download_s()},
      {"upload_s", t.upload_s()},
      {"wait_task_s", t.wait_task_s()},
      {"wait_apply_s", t.wait_apply_s()},
      {"other_s", t.other_s()},
      {"download_transfer_s", t.download_transfer_s()},
      {"upload_transfer_s", t.upload_transfer_s()},
  };
}

json WorkerJson(const WorkerRecord& w, absl::Time now) {
  return {
      {"id", w.id},
      {"name", w.name},
      {"device", w.device},
      {"identity", w.identity},
      {"threads", w.threads},
      {"state", WorkerStateName(w.state)},
      {"last_seen_s", absl::ToDoubleSeconds(now - w.last_seen)},
      {"current_task", w.current_task},
      {"tasks_done", w.tasks_done},
      {"updates_accepted", w.updates_accepted},
      {"updates_rejected", w.updates_rejected},
      {"invalid_requests", w.invalid_requests},
      {"rejected_by_reason", w.rejected_by_reason},
      {"staleness", {{"last", w.updates_accepted > 0 ? json(w.staleness_last) : json(nullptr)},
                     {"mean", w.updates_accepted > 0 ? json(static_cast<double>(w.staleness_sum) /
                                                            w.updates_accepted)
                                                      : json(nullptr)}}},
      {"bytes", {{"sent_wire", w.bytes_sent_wire},
                 {"received_wire", w.bytes_received_wire},
                 {"received_raw", w.bytes_received_raw}}},
      // Over its last reports (kUtilizationWindow); the budget is summed.
      {"utilization", OrNull(w.recent_time.utilization())},
      {"time_budget", TimeBudgetJson(w.time)},
  };
}

const char* WorkStateName(WorkState state) {
  switch (state) {
    case WorkState::kPending:
      return "pending";
    case WorkState::kLeased:
      return "leased";
    case WorkState::kDone:
      return "done";
  }
  return "unknown";
}

// How the run ends and how far it is: epochs_completed whole epochs (each
// shard exactly once), then partial_epoch_shards of an epoch cut short.
json BudgetJson(const BudgetStatus& b) {
  return {{"seconds", OrNull(b.seconds)},
          {"remaining_s", OrNull(b.remaining_s)},
          {"ended_by", b.ended_by.empty() ? json(nullptr) : json(b.ended_by)},
          {"epochs_completed", b.epochs.complete_epochs},
          {"partial_epoch_shards", b.epochs.partial_epoch_shards},
          {"schedule_steps", b.schedule_steps}};
}

}  // namespace

json StatusJson(const RunStatus& s) {
  json workers = json::array();
  for (const WorkerRecord& w : s.workers) workers.push_back(WorkerJson(w, s.now));
  json bans = json::array();
  for (const Ban& ban : s.bans) {
    bans.push_back({{"identity", ban.identity},
                    {"reason", ban.reason},
                    {"until_unix_s", absl::ToDoubleSeconds(ban.until - absl::UnixEpoch())}});
  }
  return {
      {"job", s.job},
      {"state", s.done ? "done" : "running"},
      {"model_version", s.model_version},
      {"updates_applied", s.updates_applied},
      {"updates_rejected", s.updates_rejected},
      {"rejected_by_reason", s.rejected_by_reason},
      {"staleness_histogram", s.staleness_histogram},
      {"buffered_updates", s.buffered_updates},
      {"aggregation", {{"mode", s.sync ? "sync" : "async"}, {"updates_per_version", s.updates_per_version}}},
      {"samples_processed", s.samples_processed},
      {"tokens_processed", s.tokens_processed},
      // Over the last window_s, measured here: a page or script polling once sees them.
      {"throughput", {{"samples_per_s", s.rates.samples_per_s},
                      {"tokens_per_s", s.rates.tokens_per_s},
                      {"window_s", s.rates_window_s}}},
      {"train_loss", OrNull(s.train_loss)},
      {"eval_loss", OrNull(s.eval_loss)},
      {"eval_accuracy", OrNull(s.eval_accuracy)},
      {"uptime_s", s.uptime_s},
      {"epochs", s.epochs},
      {"budget", BudgetJson(s.budget)},
      {"shards", {{"total", s.shards.total},
                  {"done", s.shards.done},
                  {"leased", s.shards.leased},
                  {"pending", s.shards.pending}}},
      {"tasks", {{"leased", s.tasks.leased},
                 {"reissued", s.tasks.reissued},
                 {"expired", s.tasks.expired},
                 {"released", s.tasks.released},
                 {"revoked", s.tasks.revoked}}},
      {"joins", s.joins},
      {"bans_total", s.bans_total},
      {"bytes", {{"received_wire", s.bytes_received_wire},
                 {"received_raw", s.bytes_received_raw},
                 {"sent_wire", s.bytes_sent_wire},
                 {"sent_raw", s.bytes_sent_raw}}},
      {"workers", workers},
      {"forgotten_workers", s.forgotten_workers},
      {"refused_by_reason", s.refused_by_reason},
      {"bans", bans},
      // Every worker's reports since the run began.
      {"utilization", OrNull(Utilization(s.time))},
      {"time_budget", TimeBudgetJson(s.time)},
  };
}

json HistoryJson(const std::vector<HistoryPoint>& history) {
  json version = json::array(), time = json::array(), samples = json::array(), train = json::array(),
       eval = json::array();
  for (const HistoryPoint& p : history) {
    version.push_back(p.version);
    time.push_back(p.time_s);
    samples.push_back(p.samples_processed);
    train.push_back(OrNull(p.train_loss));
    eval.push_back(OrNull(p.eval_loss));
  }
  return {{"model_version", version}, {"time_s", time},         {"samples_processed", samples},
          {"train_loss", train},       {"eval_loss", eval}};
}

json LedgerJson(const std::vector<WorkItem>& items) {
  json out = json::array();
  for (const WorkItem& item : items) {
    out.push_back({{"epoch", item.epoch},
                   {"shard", item.shard},
                   {"state", WorkStateName(item.state)},
                   {"task_id", item.task_id},
                   {"worker", item.worker},
                   {"leases", item.leases},
                   {"completions", item.completions}});
  }
  return {{"items", out}};
}

nlohmann::json BlobStatsJson(const BlobStats& stats) {
  nlohmann::json served = nlohmann::json::object();
  for (BlobKind kind : {BlobKind::kModel, BlobKind::kDelta, BlobKind::kShard}) {
    served[std::string(BlobKindName(kind))] = stats.served[static_cast<int>(kind)];
  }
  return {{"served", served},
          {"bytes_sent", stats.bytes_sent},
          {"not_found", stats.not_found},
          {"bad_request", stats.bad_request}};
}

nlohmann::json BlobServesJson(const std::vector<DigestServes>& serves) {
  nlohmann::json digests = nlohmann::json::array();
  for (const DigestServes& d : serves) {
    digests.push_back({{"sha256", Sha256Hex(d.digest)}, {"kind", BlobKindName(d.kind)}, {"serves", d.serves}});
  }
  return {{"digests", digests}};
}

}  // namespace tributary::coordinator
