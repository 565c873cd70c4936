#include "coordinator/status_json.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using nlohmann::json;

constexpr const char* kTimeBudgetFields[] = {
    "compute_s",    "encode_s", "download_s",          "upload_s",          "wait_task_s",
    "wait_apply_s", "other_s",  "download_transfer_s", "upload_transfer_s",
};

tributary::v1::TimeBudget Budget(double compute_s, double download_s) {
  tributary::v1::TimeBudget budget;
  budget.set_compute_s(compute_s);
  budget.set_download_s(download_s);
  budget.set_download_transfer_s(2 * download_s);
  return budget;
}

RunStatus StatusWithOneWorker() {
  RunStatus s;
  s.job = "tiny";
  WorkerRecord& w = s.workers.emplace_back();
  w.id = "w1";
  w.name = "a";
  return s;
}

void ExpectTimeBudget(const json& budget, double compute_s, double download_s) {
  ASSERT_TRUE(budget.is_object()) << budget.dump();
  EXPECT_EQ(budget.size(), std::size(kTimeBudgetFields)) << budget.dump();
  for (const char* field : kTimeBudgetFields) EXPECT_TRUE(budget.contains(field)) << field;
  EXPECT_DOUBLE_EQ(budget.value("compute_s", -1.0), compute_s);
  EXPECT_DOUBLE_EQ(budget.value("download_s", -1.0), download_s);
  EXPECT_DOUBLE_EQ(budget.value("download_transfer_s", -1.0), 2 * download_s);
  EXPECT_DOUBLE_EQ(budget.value("wait_apply_s", -1.0), 0);
}

// SPEC §9: these fields always exist; tools outside the code read them.
TEST(StatusJsonTest, TheSpecFieldsAreAllThere) {
  const json j = StatusJson(StatusWithOneWorker());
  for (const char* field : {"job", "state", "model_version", "updates_applied", "updates_rejected",
                            "samples_processed", "tokens_processed", "train_loss", "eval_loss", "eval_accuracy",
                            "uptime_s", "shards", "bytes", "workers", "utilization", "time_budget"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  for (const char* field : {"id", "name", "device", "state", "last_seen_s", "tasks_done", "updates_accepted",
                            "updates_rejected", "utilization", "time_budget"}) {
    EXPECT_TRUE(j["workers"][0].contains(field)) << field;
  }
}

TEST(StatusJsonTest, TheAggregationModeIsShown) {
  RunStatus s = StatusWithOneWorker();
  EXPECT_EQ(StatusJson(s)["aggregation"], json({{"mode", "async"}, {"updates_per_version", 1}}));
  s.sync = true;
  s.updates_per_version = 8;
  EXPECT_EQ(StatusJson(s)["aggregation"], json({{"mode", "sync"}, {"updates_per_version", 8}}));
}

// What the dashboard reads besides the spec's fields: rates measured on the
// coordinator, leases by fate, joins and bans, bytes sent as raw.
TEST(StatusJsonTest, RatesTasksJoinsAndBansAreShown) {
  RunStatus s = StatusWithOneWorker();
  s.rates = Rates{120.5, 30848};
  s.rates_window_s = 30;
  s.tasks = LeaseCounts{40, 3, 1, 2, 0};
  s.joins = 4;
  s.bans_total = 1;
  s.bytes_sent_raw = 777;
  const json j = StatusJson(s);
  EXPECT_EQ(j["throughput"], json({{"samples_per_s", 120.5}, {"tokens_per_s", 30848.0}, {"window_s", 30.0}}));
  EXPECT_EQ(j["tasks"],
            json({{"leased", 40}, {"reissued", 3}, {"expired", 1}, {"released", 2}, {"revoked", 0}}));
  EXPECT_EQ(j["joins"], 4);
  EXPECT_EQ(j["bans_total"], 1);
  EXPECT_EQ(j["bytes"]["sent_raw"], 777);
}

TEST(StatusJsonTest, UtilizationIsNullUntilAReport) {
  const json j = StatusJson(StatusWithOneWorker());
  EXPECT_TRUE(j["utilization"].is_null());
  ExpectTimeBudget(j["time_budget"], 0, 0);
  EXPECT_TRUE(j["workers"][0]["utilization"].is_null());
  ExpectTimeBudget(j["workers"][0]["time_budget"], 0, 0);
}

// A worker's utilization covers its recent reports, the run's every report;
// each time_budget is the sum of its reports.
TEST(StatusJsonTest, UtilizationAndTimeBudgetsPerWorkerAndRunWide) {
  RunStatus s = StatusWithOneWorker();
  WorkerRecord& w = s.workers[0];
  w.time = Budget(30, 10);
  for (int i = 0; i < kUtilizationWindow; ++i) w.recent_time.Add(Budget(1, 1));
  s.time = Budget(60, 20);
  const json j = StatusJson(s);
  EXPECT_DOUBLE_EQ(j["workers"][0].value("utilization", -1.0), 0.5);
  ExpectTimeBudget(j["workers"][0]["time_budget"], 30, 10);
  EXPECT_DOUBLE_EQ(j.value("utilization", -1.0), 0.75);
  ExpectTimeBudget(j["time_budget"], 60, 20);
}

}  // namespace
}  // namespace tributary::coordinator
