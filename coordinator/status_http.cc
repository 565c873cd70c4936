#include "coordinator/status_http.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/sha256.h"
#include "coordinator/dashboard.h"
#include "coordinator/status_json.h"

namespace tributary::coordinator {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr char kJson[] = "application/json";
constexpr char kBearerPrefix[] = "Bearer ";

void ServeJson(Response& response, const nlohmann::json& body) { response.set_content(body.dump(), kJson); }

void AddRoutes(httplib::Server& server, TrainingRun& run) {
  server.Get("/", [](const Request&, Response& response) {
    response.set_content(kDashboardHtml, "text/html; charset=utf-8");
  });
  server.Get("/healthz", [](const Request&, Response& response) { response.set_content("ok\n", "text/plain"); });
  server.Get("/api/status", [&run](const Request&, Response& response) {
    ServeJson(response, StatusJson(run.Status()));
  });
  server.Get("/api/history", [&run](const Request&, Response& response) {
    ServeJson(response, HistoryJson(run.History()));
  });
  server.Get("/api/ledger", [&run](const Request&, Response& response) {
    ServeJson(response, LedgerJson(run.LedgerItems()));
  });
}

// Digests first, so the comparison takes the same time whatever the lengths.
bool BearerMatches(const Request& request, const std::string& token) {
  const std::string header = request.get_header_value("Authorization");
  if (!absl::StartsWith(header, kBearerPrefix)) return false;
  const Sha256Digest given = Sha256(absl::string_view(header).substr(sizeof(kBearerPrefix) - 1));
  const Sha256Digest expected = Sha256(token);
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

// Decided from the headers alone: the pre-routing handler runs before httplib
// reads any body.
bool AnnouncesBody(const Request& request) {
  uint64_t length = 0;
  return request.has_header("Transfer-Encoding") ||
         (request.has_header("Content-Length") &&
          !(absl::SimpleAtoi(request.get_header_value("Content-Length"), &length) && length == 0));
}

// Answers what the routes must never see: other methods, bodies, and (with
// a token) requests that do not carry it.
HandlerResponse Screen(const Request& request, Response& response, const std::string& token) {
  if (request.method != "GET" && request.method != "HEAD") {
    response.status = 405;
    response.set_header("Allow", "GET, HEAD");
  } else if (AnnouncesBody(request)) {
    response.status = 413;
  } else if (!token.empty() && request.path != "/" && request.path != "/healthz" &&
             !BearerMatches(request, token)) {
    response.status = 401;
    response.set_header("WWW-Authenticate", "Bearer");
  } else {
    return HandlerResponse::Unhandled;
  }
  return HandlerResponse::Handled;
}

std::unique_ptr<httplib::Server> MakeServer(const StatusHttpOptions& options, TrainingRun& run) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(threads); };
  // One request per connection: a client cannot park on a kept-alive one.
  server->set_keep_alive_max_count(1);
  server->set_keep_alive_timeout(std::max<int64_t>(1, absl::ToInt64Seconds(options.idle_timeout)));
  server->set_read_timeout(absl::ToChronoMicroseconds(options.idle_timeout));
  server->set_write_timeout(absl::ToChronoMicroseconds(options.idle_timeout));
  server->set_pre_routing_handler([token = options.bearer_token](const Request& request, Response& response) {
    return Screen(request, response, token);
  });
  AddRoutes(*server, run);
  return server;
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

absl::StatusOr<std::string> ReadBearerToken(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  std::string token(absl::StripTrailingAsciiWhitespace(*contents));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " holds no token"));
  return token;
}

absl::StatusOr<std::unique_ptr<StatusHttpServer>> StatusHttpServer::Start(const StatusHttpOptions& options,
                                                                         TrainingRun& run) {
  absl::StatusOr<HostPort> hp = SplitHostPort(options.address);
  if (!hp.ok()) return hp.status();
  std::unique_ptr<httplib::Server> server = MakeServer(options, run);
  const int port = hp->port == 0 ? server->bind_to_any_port(hp->host)
                                 : (server->bind_to_port(hp->host, hp->port) ? hp->port : -1);
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address, " (in use?)"));
  }
  return std::unique_ptr<StatusHttpServer>(new StatusHttpServer(std::move(server), hp->host, port));
}

StatusHttpServer::StatusHttpServer(std::unique_ptr<httplib::Server> server, std::string host, int port)
    : server_(std::move(server)), host_(std::move(host)), port_(port) {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

StatusHttpServer::~StatusHttpServer() {
  server_->stop();
  thread_.join();
}

std::string StatusHttpServer::url() const {
  const bool wildcard = host_.empty() || host_ == "0.0.0.0" || host_ == "::";
  if (wildcard) return absl::StrCat("http://localhost:", port_, "/");
  if (absl::StrContains(host_, ':')) return absl::StrCat("http://[", host_, "]:", port_, "/");
  return absl::StrCat("http://", host_, ":", port_, "/");
}

}  // namespace tributary::coordinator
