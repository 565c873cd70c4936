#include "coordinator/status_http.h"

#include <httplib.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "coordinator/dashboard.h"
#include "coordinator/status_json.h"

namespace tributary::coordinator {
namespace {

constexpr char kJson[] = "application/json";

void ServeJson(httplib::Response& response, const nlohmann::json& body) {
  response.set_content(body.dump(), kJson);
}

void AddRoutes(httplib::Server& server, TrainingRun& run) {
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kDashboardHtml, "text/html; charset=utf-8");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  server.Get("/api/status", [&run](const httplib::Request&, httplib::Response& response) {
    ServeJson(response, StatusJson(run.Status()));
  });
  server.Get("/api/history", [&run](const httplib::Request&, httplib::Response& response) {
    ServeJson(response, HistoryJson(run.History()));
  });
  server.Get("/api/ledger", [&run](const httplib::Request&, httplib::Response& response) {
    ServeJson(response, LedgerJson(run.LedgerItems()));
  });
}

}  // namespace

absl::StatusOr<HostPort> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  HostPort hp;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not HOST:PORT"));
  }
  hp.host = address.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

absl::StatusOr<std::unique_ptr<StatusHttpServer>> StatusHttpServer::Start(const std::string& address,
                                                                         TrainingRun& run) {
  absl::StatusOr<HostPort> hp = SplitHostPort(address);
  if (!hp.ok()) return hp.status();
  auto server = std::make_unique<httplib::Server>();
  AddRoutes(*server, run);
  const int port = hp->port == 0 ? server->bind_to_any_port(hp->host)
                                 : (server->bind_to_port(hp->host, hp->port) ? hp->port : -1);
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, " (in use?)"));
  }
  return std::unique_ptr<StatusHttpServer>(new StatusHttpServer(std::move(server), port));
}

StatusHttpServer::StatusHttpServer(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

StatusHttpServer::~StatusHttpServer() {
  server_->stop();
  thread_.join();
}

}  // namespace tributary::coordinator
