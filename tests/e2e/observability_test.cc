// End to end: what operators point at a running coordinator. Headless
// Chromium renders the dashboard; promtool lints /metrics; a real
// Prometheus server scrapes it (with the status endpoint's token) and
// evaluates every query of deploy/grafana/tributary.json. Each test skips
// with a message naming the Debian package when its tool is missing
// (tools/install-deps.sh --test installs them, so CI never skips).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace tributary::testing {
namespace {

using nlohmann::json;

// The tiny MLP of the other e2e tests, with a budget it does not reach in
// a test's time: workers pause between tasks, so three of them share two
// cores and the run moves steadily. Per-worker series are on, so promtool
// lints them too.
constexpr char kJob[] = R"(
  name: "observed-mlp"
  model { mlp { hidden: 32 } }
  data { fashion_mnist { max_train_examples: 10000 } shard_examples: 100 }
  eval { interval_versions: 20 max_examples: 200 }
  optimizer { lr: 0.05 }
  budget { epochs: 100 }
  lease { lease_timeout_s: 5 heartbeat_interval_s: 0.5 heartbeat_timeout_s: 10 }
  monitoring { per_worker_metrics: true }
)";
constexpr char kTaskDelay[] = "--test_task_delay=50ms";
constexpr int kWorkers = 3;

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// Runs `command` under sh; returns its exit code and stdout (stderr goes
// to `stderr_log`).
struct CommandResult {
  int exit_code = -1;
  std::string out;
};
CommandResult RunCommand(const std::string& command, const std::string& stderr_log) {
  CommandResult result;
  FILE* pipe = popen(absl::StrCat(command, " 2>>", stderr_log).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A training run with kWorkers workers, the status endpoint behind `token`
// when one is given; returns once `versions` model versions are applied.
std::unique_ptr<Cluster> StartRun(const std::string& name, int versions, const std::string& token = "") {
  auto cluster = std::make_unique<Cluster>(name, kJob);
  std::vector<std::string> flags;
  if (!token.empty()) {
    WriteFile(cluster->dir() + "/http_token", token + "\n");
    flags.push_back("--http_token_file=" + cluster->dir() + "/http_token");
    cluster->set_http_token(token);
  }
  cluster->StartCoordinator(flags);
  for (int i = 0; i < kWorkers; ++i) cluster->StartWorker(absl::StrCat("worker-", i), {kTaskDelay});
  EXPECT_TRUE(WaitFor(
      [&] {
        const json s = cluster->Status();
        return s.is_object() && s["model_version"].get<int>() >= versions &&
               static_cast<int>(s["workers"].size()) == kWorkers && !s["eval_loss"].is_null();
      },
      absl::Seconds(120)))
      << cluster->Logs();
  return cluster;
}

// The DOM Chromium renders for `url` after its scripts ran and their
// fetches returned (--virtual-time-budget); also saves a screenshot.
std::string RenderInChromium(const std::string& url, const std::string& dir) {
  const std::string flags = absl::StrCat(
      "/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars "
      "--user-data-dir=",
      dir, "/chromium-profile --virtual-time-budget=8000 --window-size=1400,1500 ");
  RunCommand(absl::StrCat(flags, "--screenshot=", dir, "/dashboard.png ", url), dir + "/chromium.log");
  return RunCommand(absl::StrCat(flags, "--dump-dom ", url), dir + "/chromium.log").out;
}

// The inner HTML of the element with id `id` (no nested element of its tag).
std::string ElementById(const std::string& dom, const std::string& tag, const std::string& id) {
  const std::string open = absl::StrCat("<", tag, " id=\"", id, "\"");
  const size_t start = dom.find(open);
  if (start == std::string::npos) return "";
  const size_t end = dom.find(absl::StrCat("</", tag, ">"), start);
  return end == std::string::npos ? "" : dom.substr(start, end - start);
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(DashboardTest, ChromiumDrawsTheLossCurvesAndOneRowPerWorker) {
  if (!Executable("/usr/bin/chromium")) GTEST_SKIP() << "no /usr/bin/chromium (Debian package chromium)";
  std::unique_ptr<Cluster> cluster = StartRun("dashboard", 30);
  const std::string dom =
      RenderInChromium(absl::StrCat("http://127.0.0.1:", cluster->http_port(), "/"), cluster->dir());
  ASSERT_THAT(dom, ::testing::HasSubstr("<html")) << ReadFile(cluster->dir() + "/chromium.log");

  // Both loss charts drew the training curve and the evaluations.
  for (const char* chart : {"chart_samples", "chart_time"}) {
    const std::string svg = ElementById(dom, "svg", chart);
    std::smatch points;
    ASSERT_TRUE(std::regex_search(svg, points, std::regex("data-points=\"([0-9]+)\""))) << chart << ": " << svg;
    EXPECT_GE(std::stoi(points[1]), 3) << chart;
    EXPECT_THAT(svg, ::testing::HasSubstr("class=\"train_loss\"")) << chart;
    EXPECT_THAT(svg, ::testing::HasSubstr("<circle")) << chart << ": an evaluation is marked";
  }
  // One row per worker, each named.
  const std::string rows = ElementById(dom, "tbody", "workers");
  EXPECT_EQ(Count(rows, "<tr>"), kWorkers) << rows;
  for (int i = 0; i < kWorkers; ++i) EXPECT_THAT(rows, ::testing::HasSubstr(absl::StrCat("worker-", i)));
  // The rate comes computed from the server: a page that rendered once shows it.
  std::smatch rate;
  ASSERT_TRUE(std::regex_search(dom, rate, std::regex("id=\"samples_per_s\">([0-9.,]+)<"))) << dom;
  double samples_per_s = 0;
  ASSERT_TRUE(absl::SimpleAtod(absl::StrReplaceAll(rate[1].str(), {{",", ""}}), &samples_per_s));
  EXPECT_GT(samples_per_s, 0);
  EXPECT_THAT(ElementById(dom, "tbody", "rejections"), ::testing::HasSubstr("<tr>"));

  struct stat png;
  ASSERT_EQ(stat((cluster->dir() + "/dashboard.png").c_str(), &png), 0) << "no screenshot";
  EXPECT_GT(png.st_size, 10000);
}

TEST(MetricsEndpointTest, PassesPromtoolCheckMetrics) {
  if (!Executable("/usr/bin/promtool")) GTEST_SKIP() << "no /usr/bin/promtool (Debian package prometheus)";
  std::unique_ptr<Cluster> cluster = StartRun("promtool", 10);
  const std::string metrics = cluster->Text("/metrics");
  ASSERT_THAT(metrics, ::testing::HasSubstr("tributary_worker_tasks_total{worker=")) << metrics;
  ASSERT_THAT(metrics, ::testing::HasSubstr("tributary_task_seconds_bucket"));
  WriteFile(cluster->dir() + "/metrics.txt", metrics);
  // promtool prints each problem and exits 1; silence and 0 when clean.
  const CommandResult lint = RunCommand(absl::StrCat("(/usr/bin/promtool check metrics < ", cluster->dir(),
                                                     "/metrics.txt 2>&1)"),
                                        cluster->dir() + "/promtool.log");
  EXPECT_EQ(lint.exit_code, 0) << lint.out;
  EXPECT_EQ(lint.out, "");
}

// Every metric name a query of the Grafana dashboard uses.
std::set<std::string> MetricNames(const std::string& expr) {
  std::set<std::string> names;
  const std::regex name("tributary_[a-z_]+");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name); it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(n, suffix)) n.resize(n.size() - strlen(suffix));
    }
    names.insert(n);
  }
  return names;
}

class Prometheus {
 public:
  // Starts prometheus on 127.0.0.1 scraping `target` every second with
  // the bearer token in `token_file`.
  Prometheus(const std::string& dir, int target, const std::string& token_file) : port_(FreePort()) {
    WriteFile(dir + "/prometheus.yml", absl::StrCat(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tributary
    authorization:
      credentials_file: )", token_file, R"(
    static_configs:
      - targets: ["127.0.0.1:)", target, R"("]
)"));
    process_ = Process::Start({"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                               "--storage.tsdb.path=" + dir + "/prometheus-data",
                               absl::StrCat("--web.listen-address=127.0.0.1:", port_)},
                              dir + "/prometheus.log")
                   .value();
  }

  bool WaitReady() {
    return WaitFor([&] { return GetText(port_, "/-/ready").ok(); }, absl::Seconds(60));
  }

  // An instant query's JSON answer.
  json Query(const std::string& expr) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(10);
    auto response = client.Get("/api/v1/query", httplib::Params{{"query", expr}}, httplib::Headers{});
    if (!response) return json();
    return json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  }

  std::string Log() const { return process_->Log(); }

 private:
  int port_;
  std::unique_ptr<Process> process_;
};

// A real Prometheus scrapes /metrics (which the token guards) and a series
// comes back through its query API; then every query of the Grafana
// dashboard is valid PromQL over metrics /metrics really has, and those
// that do not depend on rejections or churn return data.
TEST(PrometheusTest, ScrapesTheCoordinatorAndAnswersTheGrafanaQueries) {
  if (!Executable("/usr/bin/prometheus")) GTEST_SKIP() << "no /usr/bin/prometheus (Debian package prometheus)";
  const std::string token = "status-token-4f1d9a";
  std::unique_ptr<Cluster> cluster = StartRun("prometheus", 5, token);
  ASSERT_FALSE(GetText(cluster->http_port(), "/metrics").ok()) << "/metrics wants the token";
  Prometheus prometheus(cluster->dir(), cluster->http_port(), cluster->dir() + "/http_token");
  ASSERT_TRUE(prometheus.WaitReady()) << prometheus.Log();

  json version;
  ASSERT_TRUE(WaitFor(
      [&] {
        version = prometheus.Query("tributary_model_version");
        return version.value("status", "") == "success" && !version["data"]["result"].empty();
      },
      absl::Seconds(60)))
      << version.dump() << prometheus.Log();
  const json& sample = version["data"]["result"][0];
  EXPECT_EQ(sample["metric"]["job"], "tributary");
  double value = 0;
  ASSERT_TRUE(absl::SimpleAtod(sample["value"][1].get<std::string>(), &value));
  EXPECT_GE(value, 5);
  const json up = prometheus.Query("up{job=\"tributary\"}");
  ASSERT_FALSE(up["data"]["result"].empty()) << up.dump();
  EXPECT_EQ(up["data"]["result"][0]["value"][1], "1") << "the scrape with the token succeeds";

  // Enough scrapes for rates over the dashboard's interval.
  absl::SleepFor(absl::Seconds(6));
  const std::string metrics = cluster->Text("/metrics");
  const json dashboard = json::parse(ReadFile(std::string(TRIBUTARY_SOURCE_DIR) + "/deploy/grafana/tributary.json"),
                                     nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(dashboard.is_object()) << "deploy/grafana/tributary.json does not parse";
  int queries = 0;
  for (const json& panel : dashboard["panels"]) {
    for (const json& target : panel["targets"]) {
      const std::string expr = absl::StrReplaceAll(target["expr"].get<std::string>(),
                                                   {{"$__rate_interval", "5s"}, {"$instance", ".*"}});
      ++queries;
      for (const std::string& name : MetricNames(expr)) {
        EXPECT_THAT(metrics, ::testing::HasSubstr("# TYPE " + name + " "))
            << panel["title"] << ": " << name << " is not in /metrics";
      }
      const json answer = prometheus.Query(expr);
      ASSERT_EQ(answer.value("status", ""), "success") << panel["title"] << ": " << expr << "\n" << answer.dump();
      // Every series is there from the start, reasons and states at 0
      // (coordinator/reasons.h), except utilization before a time report.
      if (!absl::StrContains(expr, "utilization")) {
        EXPECT_FALSE(answer["data"]["result"].empty()) << panel["title"] << ": " << expr << " returned nothing";
      }
    }
  }
  EXPECT_GE(queries, 20);
}

}  // namespace
}  // namespace tributary::testing
