#include "coordinator/metrics.h"

#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coordinator/reasons.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunStatus SomeStatus() {
  RunStatus s;
  s.job = "tiny";
  s.model_version = 42;
  s.updates_applied = 50;
  s.rejected_by_reason = {{"stale", 3}, {"norm", 1}};
  s.refused_by_reason = {{"rate", 7}};
  s.staleness_histogram = {10, 30, 0, 10};
  s.samples_processed = 6400;
  s.bytes_received_wire = 1000;
  s.bytes_received_raw = 4000;
  s.bytes_sent_wire = 9000;
  s.bytes_sent_raw = 36000;
  s.tasks = LeaseCounts{60, 8, 3, 4, 1};
  s.joins = 12;
  s.bans_total = 2;
  s.task_seconds.Observe(0.3);
  s.task_seconds.Observe(0.4);
  s.task_seconds.Observe(7);

  s.eval_loss = 1.5;
  s.shards = LedgerCounts{100, 50, 2, 48};
  s.workers.resize(3);
  s.workers[2].state = WorkerState::kLost;
  s.workers[0].id = "w-1";
  s.workers[0].name = "gpu box";
  s.workers[0].tasks_done = 17;
  s.forgotten_workers = {{"left", 5}};
  return s;
}

// Every sample's family was announced with HELP and TYPE before it, every
// name carries the prefix and is a valid metric name, and every line is a
// comment or "name[{labels}] value".
TEST(MetricsTest, TheTextFollowsTheExpositionFormat) {
  const std::string text = PrometheusText(SomeStatus());
  const std::regex sample(R"re((tributary_[a-zA-Z0-9_]*)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? (\S+))re");
  std::set<std::string> helped, typed;
  std::map<std::string, std::string> types;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> words = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (words[0] == "#") {
      ASSERT_GE(words.size(), 4u) << line;
      EXPECT_THAT(words[2], ::testing::StartsWith("tributary_")) << line;
      (words[1] == "HELP" ? helped : typed).insert(words[2]);
      if (words[1] == "TYPE") types[words[2]] = words[3];
      continue;
    }
    std::cmatch match;
    ASSERT_TRUE(std::regex_match(line.begin(), line.end(), match, sample)) << line;
    std::string family = match[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(family, suffix) && types.count(family) == 0) family.resize(family.size() - strlen(suffix));
    }
    EXPECT_TRUE(helped.count(family) && typed.count(family)) << "no HELP/TYPE before " << line;
    EXPECT_TRUE(types[family] != "counter" || absl::EndsWith(family, "_total")) << family;
  }
}

TEST(MetricsTest, CountersGaugesAndLabelsCarryTheRunsNumbers) {
  const std::string text = PrometheusText(SomeStatus());
  EXPECT_THAT(text, HasSubstr("tributary_model_version 42\n"));
  EXPECT_THAT(text, HasSubstr("tributary_updates_applied_total 50\n"));
  EXPECT_THAT(text, HasSubstr("tributary_updates_rejected_total{reason=\"stale\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_requests_refused_total{reason=\"rate\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("tributary_received_bytes_total{kind=\"raw\"} 4000\n"));
  EXPECT_THAT(text, HasSubstr("tributary_sent_bytes_total{kind=\"wire\"} 9000\n"));
  EXPECT_THAT(text, HasSubstr("tributary_sent_bytes_total{kind=\"raw\"} 36000\n"));
  EXPECT_THAT(text, HasSubstr("tributary_tasks_leased_total 60\n"));
  EXPECT_THAT(text, HasSubstr("tributary_tasks_reissued_total 8\n"));
  EXPECT_THAT(text, HasSubstr("tributary_tasks_requeued_total{reason=\"expired\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_tasks_requeued_total{reason=\"released\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("tributary_tasks_requeued_total{reason=\"revoked\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tributary_joins_total 12\n"));
  EXPECT_THAT(text, HasSubstr("tributary_bans_total 2\n"));
  EXPECT_THAT(text, HasSubstr("tributary_workers{state=\"banned\"} 0\n")) << "every state, even at 0";
  EXPECT_THAT(text, HasSubstr("tributary_shards{state=\"pending\"} 48\n"));
  EXPECT_THAT(text, HasSubstr("tributary_workers{state=\"active\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tributary_workers{state=\"lost\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tributary_workers{state=\"left\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("tributary_eval_loss 1.5\n"));
  EXPECT_THAT(text, Not(HasSubstr("tributary_train_loss"))) << "unknown values are left out";
  EXPECT_THAT(text, Not(HasSubstr("tributary_utilization"))) << "no time report yet";
}

// Every reason of coordinator/reasons.h has a series from the start, at 0
// until it happens (rate() over a missing series is "No data", not 0), and
// a reason the list lacks still gets its own.
TEST(MetricsTest, EveryRejectionAndRefusalReasonIsWrittenEvenAtZero) {
  RunStatus s = SomeStatus();
  s.refused_by_reason["unlisted"] = 2;
  const std::string text = PrometheusText(s);
  for (const char* reason : rejected::kAll) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("tributary_updates_rejected_total{reason=\"", reason, "\"} ")));
  }
  for (const char* reason : refused::kAll) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("tributary_requests_refused_total{reason=\"", reason, "\"} ")));
  }
  EXPECT_THAT(text, HasSubstr("tributary_updates_rejected_total{reason=\"lease\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tributary_updates_rejected_total{reason=\"stale\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_requests_refused_total{reason=\"auth\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tributary_requests_refused_total{reason=\"unlisted\"} 2\n"));
}

// Accepted updates by staleness {10, 30, 0, 10}: cumulative buckets, the
// sum of the staleness (30 + 30) and the count.
TEST(MetricsTest, StalenessIsACumulativeHistogram) {
  const std::string text = PrometheusText(SomeStatus());
  EXPECT_THAT(text, HasSubstr("# TYPE tributary_staleness histogram\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_bucket{le=\"0\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_bucket{le=\"1\"} 40\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_bucket{le=\"2\"} 40\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_bucket{le=\"3\"} 50\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_bucket{le=\"+Inf\"} 50\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_sum 60\n"));
  EXPECT_THAT(text, HasSubstr("tributary_staleness_count 50\n"));
}

// Task times {0.3, 0.4, 7} s in the shared seconds buckets.
TEST(MetricsTest, TaskTimeIsAHistogramInSeconds) {
  const std::string text = PrometheusText(SomeStatus());
  EXPECT_THAT(text, HasSubstr("# TYPE tributary_task_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_bucket{le=\"0.25\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_bucket{le=\"0.5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_bucket{le=\"5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_bucket{le=\"10\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_sum 7.7000000000000002\n"));
  EXPECT_THAT(text, HasSubstr("tributary_task_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("tributary_submit_seconds_count 0\n"));
  EXPECT_THAT(text, HasSubstr("tributary_submit_apply_seconds_bucket{le=\"+Inf\"} 0\n"));
}

// No series names a worker unless the job asks; then one per worker record.
TEST(MetricsTest, PerWorkerSeriesOnlyWhenTheJobOptsIn) {
  RunStatus s = SomeStatus();
  EXPECT_THAT(PrometheusText(s), Not(HasSubstr("worker=")));
  s.per_worker_metrics = true;
  const std::string text = PrometheusText(s);
  EXPECT_THAT(text, HasSubstr("tributary_worker_tasks_total{worker=\"w-1\",name=\"gpu box\",state=\"active\"} 17\n"));
  size_t series = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    series += absl::StartsWith(line, "tributary_worker_tasks_total{");
  }
  EXPECT_EQ(series, s.workers.size());
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  RunStatus s = SomeStatus();
  s.rejected_by_reason = {{"a\"b\\c\nd", 1}};
  EXPECT_THAT(PrometheusText(s), HasSubstr(R"(tributary_updates_rejected_total{reason="a\"b\\c\nd"} 1)"));
}

}  // namespace
}  // namespace tributary::coordinator
