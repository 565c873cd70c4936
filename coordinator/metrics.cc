#include "coordinator/metrics.h"

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/time_budget.h"
#include "coordinator/reasons.h"
#include "coordinator/registry.h"

namespace tributary::coordinator {
namespace {

// A label value as the exposition format wants it: backslash, double quote
// and newline escaped.
std::string EscapeLabel(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  // Starts a metric family: its HELP and TYPE lines.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&text_, "# HELP tributary_", name, " ", help, "\n# TYPE tributary_", name, " ", type, "\n");
  }
  // One sample; `labels` as name/value pairs.
  void Sample(absl::string_view name, double value,
              const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    absl::StrAppend(&text_, "tributary_", name);
    if (!labels.empty()) {
      text_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        absl::StrAppend(&text_, i ? "," : "", labels[i].first, "=\"", EscapeLabel(labels[i].second), "\"");
      }
      text_ += '}';
    }
    absl::StrAppendFormat(&text_, " %.17g\n", value);
  }
  // A family of one unlabelled sample.
  void Single(absl::string_view name, absl::string_view type, absl::string_view help, double value) {
    Family(name, type, help);
    Sample(name, value);
  }
  // A family with one sample per key of `values`, labelled `label`.
  // `known` label values are written at 0 until they have a value.
  void ByLabel(absl::string_view name, absl::string_view type, absl::string_view help, const std::string& label,
               std::map<std::string, int64_t> values, absl::Span<const char* const> known = {}) {
    for (const char* key : known) values[key] += 0;
    Family(name, type, help);
    for (const auto& [key, value] : values) Sample(name, static_cast<double>(value), {{label, key}});
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

// Buckets as cumulative counts, with _sum and _count.
void HistogramSamples(Exposition& m, absl::string_view name, absl::Span<const double> bounds,
                      absl::Span<const int64_t> counts, double sum) {
  int64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    m.Sample(absl::StrCat(name, "_bucket"), static_cast<double>(cumulative),
             {{"le", i < bounds.size() ? absl::StrFormat("%g", bounds[i]) : "+Inf"}});
  }
  m.Sample(absl::StrCat(name, "_sum"), sum);
  m.Sample(absl::StrCat(name, "_count"), static_cast<double>(cumulative));
}

void SecondsHistogram(Exposition& m, absl::string_view name, absl::string_view help, const Histogram& h) {
  m.Family(name, "histogram", help);
  HistogramSamples(m, name, h.bounds(), h.counts(), h.sum());
}

// monitoring.per_worker_metrics: one series per worker record in memory.
void PerWorker(Exposition& m, const RunStatus& s) {
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const WorkerRecord&);
  };
  static constexpr Series kSeries[] = {
      {"worker_tasks_total", "counter", "Tasks a worker completed.",
       [](const WorkerRecord& w) { return static_cast<double>(w.tasks_done); }},
      {"worker_updates_accepted_total", "counter", "A worker's updates accepted.",
       [](const WorkerRecord& w) { return static_cast<double>(w.updates_accepted); }},
      {"worker_updates_rejected_total", "counter", "A worker's updates rejected.",
       [](const WorkerRecord& w) { return static_cast<double>(w.updates_rejected); }},
      {"worker_received_bytes_total", "counter", "Update bytes received from a worker, as sent.",
       [](const WorkerRecord& w) { return static_cast<double>(w.bytes_received_wire); }},
      {"worker_sent_bytes_total", "counter", "Bytes streamed to a worker.",
       [](const WorkerRecord& w) { return static_cast<double>(w.bytes_sent_wire); }},
      {"worker_staleness", "gauge", "Staleness of a worker's last accepted update.",
       [](const WorkerRecord& w) { return static_cast<double>(w.staleness_last); }},
      {"worker_last_seen_seconds", "gauge", "Unix time a worker was last heard from.",
       [](const WorkerRecord& w) { return absl::ToDoubleSeconds(w.last_seen - absl::UnixEpoch()); }},
  };
  auto labels = [](const WorkerRecord& w) -> std::vector<std::pair<std::string, std::string>> {
    return {{"worker", w.id}, {"name", w.name}, {"state", WorkerStateName(w.state)}};
  };
  for (const Series& series : kSeries) {
    m.Family(series.name, series.type, series.help);
    for (const WorkerRecord& w : s.workers) m.Sample(series.name, series.value(w), labels(w));
  }
  m.Family("worker_utilization", "gauge", "A worker's compute time over wall time, its last reports.");
  for (const WorkerRecord& w : s.workers) {
    if (std::optional<double> u = w.recent_time.utilization()) m.Sample("worker_utilization", *u, labels(w));
  }
}

}  // namespace

std::string PrometheusText(const RunStatus& s) {
  Exposition m;
  m.Single("model_version", "gauge", "The current model version.", static_cast<double>(s.model_version));
  m.Single("done", "gauge", "1 once the budget is spent and the final evaluation recorded.", s.done ? 1 : 0);
  m.Single("uptime_seconds", "gauge", "Seconds the run has trained (a resumed run counts its earlier time).",
           s.uptime_s);
  m.Single("updates_applied_total", "counter", "Updates folded into the model.",
           static_cast<double>(s.updates_applied));
  m.ByLabel("updates_rejected_total", "counter", "Updates rejected, by reason.", "reason", s.rejected_by_reason,
            rejected::kAll);
  m.ByLabel("requests_refused_total", "counter", "Requests refused before they reached the run, by reason.",
            "reason", s.refused_by_reason, refused::kAll);
  m.Single("samples_total", "counter", "Training examples in applied updates.",
           static_cast<double>(s.samples_processed));
  m.Single("tokens_total", "counter", "Predicted tokens in applied updates (language models).",
           static_cast<double>(s.tokens_processed));
  m.Family("received_bytes_total", "counter",
           "Update bytes received from workers: as sent (wire) and as the fp32 they decode to (raw).");
  m.Sample("received_bytes_total", static_cast<double>(s.bytes_received_wire), {{"kind", "wire"}});
  m.Sample("received_bytes_total", static_cast<double>(s.bytes_received_raw), {{"kind", "raw"}});
  m.Family("sent_bytes_total", "counter",
           "Shard and model bytes streamed to workers: as sent (wire) and as what they stand for (raw: a model "
           "delta counts as the whole model).");
  m.Sample("sent_bytes_total", static_cast<double>(s.bytes_sent_wire), {{"kind", "wire"}});
  m.Sample("sent_bytes_total", static_cast<double>(s.bytes_sent_raw), {{"kind", "raw"}});
  m.Single("tasks_leased_total", "counter", "Tasks handed out (leases of work items).",
           static_cast<double>(s.tasks.leased));
  m.Single("tasks_reissued_total", "counter", "Tasks handed out for a work item that was leased before.",
           static_cast<double>(s.tasks.reissued));
  m.ByLabel("tasks_requeued_total", "counter",
            "Leases given back to the queue: expired (not renewed), released (the worker left, was lost or "
            "dropped it), revoked (a round closed without it, or the time budget ran out).",
            "reason",
            {{"expired", s.tasks.expired}, {"released", s.tasks.released}, {"revoked", s.tasks.revoked}});
  m.Single("joins_total", "counter", "Worker sessions joined.", static_cast<double>(s.joins));
  m.Single("bans_total", "counter", "Bans imposed on worker identities.", static_cast<double>(s.bans_total));
  m.Single("bans", "gauge", "Identities banned now.", static_cast<double>(s.bans.size()));
  m.Single("buffered_updates", "gauge", "Accepted updates waiting for their buffer or round to fill.",
           s.buffered_updates);
  if (s.train_loss) m.Single("train_loss", "gauge", "Smoothed training loss the workers report.", *s.train_loss);
  if (s.eval_loss) m.Single("eval_loss", "gauge", "Loss on the held-out split at the last evaluation.", *s.eval_loss);
  if (s.eval_accuracy) {
    m.Single("eval_accuracy", "gauge", "Accuracy on the held-out split at the last evaluation.", *s.eval_accuracy);
  }
  m.ByLabel("shards", "gauge", "Work items of the budget by state.", "state",
            {{"done", s.shards.done}, {"leased", s.shards.leased}, {"pending", s.shards.pending}});
  std::map<std::string, int64_t> workers = s.forgotten_workers;
  for (const char* state : {"active", "lost", "left", "banned"}) workers[state] += 0;  // Every state, even at 0.
  for (const WorkerRecord& w : s.workers) ++workers[WorkerStateName(w.state)];
  m.ByLabel("workers", "gauge", "Workers by state (those aged out of memory included).", "state", workers);
  if (std::optional<double> utilization = Utilization(s.time)) {
    m.Single("utilization", "gauge", "Share of the workers' reported time spent computing, run-wide.",
             *utilization);
  }
  // Accepted updates by staleness, one bucket per version up to the bound.
  m.Family("staleness", "histogram", "Staleness (versions) of accepted updates.");
  std::vector<double> bounds;
  double sum = 0;
  for (size_t i = 0; i < s.staleness_histogram.size(); ++i) {
    bounds.push_back(static_cast<double>(i));
    sum += static_cast<double>(i) * s.staleness_histogram[i];
  }
  std::vector<int64_t> counts = s.staleness_histogram;
  counts.push_back(0);  // Nothing beyond the bound is accepted.
  HistogramSamples(m, "staleness", bounds, counts, sum);
  SecondsHistogram(m, "task_seconds",
                   "Seconds from a task's lease to its accepted update (compute, transfers and waits), since "
                   "the coordinator started.",
                   s.task_seconds);
  SecondsHistogram(m, "submit_seconds",
                   "Seconds from an upload's first byte to the reply (transfer, decode, apply), since the "
                   "coordinator started.",
                   s.submit_seconds);
  SecondsHistogram(m, "submit_apply_seconds",
                   "Seconds from an upload's last byte to the reply: the coordinator's own work of a submit.",
                   s.submit_apply_seconds);
  if (s.per_worker_metrics) PerWorker(m, s);
  return m.Take();
}

std::string BlobPrometheusText(const BlobStats& stats) {
  Exposition m;
  m.Family("blob_requests_total", "counter",
           "GET /blobs/ requests by the blob's kind and the result (served, not_found, bad_request).");
  for (BlobKind kind : {BlobKind::kModel, BlobKind::kDelta, BlobKind::kShard}) {
    m.Sample("blob_requests_total", static_cast<double>(stats.served[static_cast<int>(kind)]),
             {{"kind", std::string(BlobKindName(kind))}, {"result", "served"}});
  }
  m.Sample("blob_requests_total", static_cast<double>(stats.not_found), {{"kind", "unknown"}, {"result", "not_found"}});
  m.Sample("blob_requests_total", static_cast<double>(stats.bad_request),
           {{"kind", "unknown"}, {"result", "bad_request"}});
  m.Single("blob_bytes_sent_total", "counter", "Body bytes GET /blobs/ sent.", static_cast<double>(stats.bytes_sent));
  return m.Take();
}

}  // namespace tributary::coordinator
