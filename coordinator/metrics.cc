#include "coordinator/metrics.h"

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/time_budget.h"
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
  void ByLabel(absl::string_view name, absl::string_view type, absl::string_view help, const std::string& label,
               const std::map<std::string, int64_t>& values) {
    Family(name, type, help);
    for (const auto& [key, value] : values) Sample(name, static_cast<double>(value), {{label, key}});
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

std::string PrometheusText(const RunStatus& s) {
  Exposition m;
  m.Single("model_version", "gauge", "The current model version.", static_cast<double>(s.model_version));
  m.Single("done", "gauge", "1 once the budget is spent and the final evaluation recorded.", s.done ? 1 : 0);
  m.Single("updates_applied_total", "counter", "Updates folded into the model.",
           static_cast<double>(s.updates_applied));
  m.ByLabel("updates_rejected_total", "counter", "Updates rejected, by reason.", "reason", s.rejected_by_reason);
  m.ByLabel("requests_refused_total", "counter", "Requests refused before they reached the run, by reason.",
            "reason", s.refused_by_reason);
  m.Single("samples_total", "counter", "Training examples in applied updates.",
           static_cast<double>(s.samples_processed));
  m.Single("tokens_total", "counter", "Predicted tokens in applied updates (language models).",
           static_cast<double>(s.tokens_processed));
  m.Family("received_bytes_total", "counter", "Update bytes received: as sent (wire) and as fp32 (raw).");
  m.Sample("received_bytes_total", static_cast<double>(s.bytes_received_wire), {{"kind", "wire"}});
  m.Sample("received_bytes_total", static_cast<double>(s.bytes_received_raw), {{"kind", "raw"}});
  m.Single("sent_bytes_total", "counter", "Shard and model bytes streamed to workers.",
           static_cast<double>(s.bytes_sent_wire));
  m.Single("buffered_updates", "gauge", "Accepted updates waiting for their buffer or round to fill.",
           s.buffered_updates);
  if (s.train_loss) m.Single("train_loss", "gauge", "Smoothed training loss the workers report.", *s.train_loss);
  if (s.eval_loss) m.Single("eval_loss", "gauge", "Loss on the held-out split at the last evaluation.", *s.eval_loss);
  if (s.eval_accuracy) {
    m.Single("eval_accuracy", "gauge", "Accuracy on the held-out split at the last evaluation.", *s.eval_accuracy);
  }
  m.Family("shards", "gauge", "Work items of the budget by state.");
  m.Sample("shards", static_cast<double>(s.shards.done), {{"state", "done"}});
  m.Sample("shards", static_cast<double>(s.shards.leased), {{"state", "leased"}});
  m.Sample("shards", static_cast<double>(s.shards.pending), {{"state", "pending"}});
  std::map<std::string, int64_t> workers = s.forgotten_workers;
  for (const WorkerRecord& w : s.workers) ++workers[WorkerStateName(w.state)];
  m.ByLabel("workers", "gauge", "Workers by state (those aged out of memory included).", "state", workers);
  m.Single("bans", "gauge", "Identities banned now.", static_cast<double>(s.bans.size()));
  if (std::optional<double> utilization = Utilization(s.time)) {
    m.Single("utilization", "gauge", "Share of the workers' reported time spent computing, run-wide.",
             *utilization);
  }
  // Accepted updates by staleness, as a cumulative histogram.
  m.Family("staleness", "histogram", "Staleness (versions) of accepted updates.");
  int64_t cumulative = 0, sum = 0;
  for (size_t i = 0; i < s.staleness_histogram.size(); ++i) {
    cumulative += s.staleness_histogram[i];
    sum += static_cast<int64_t>(i) * s.staleness_histogram[i];
    m.Sample("staleness_bucket", static_cast<double>(cumulative), {{"le", absl::StrCat(i)}});
  }
  m.Sample("staleness_bucket", static_cast<double>(cumulative), {{"le", "+Inf"}});
  m.Sample("staleness_sum", static_cast<double>(sum));
  m.Sample("staleness_count", static_cast<double>(cumulative));
  return m.Take();
}

}  // namespace tributary::coordinator
