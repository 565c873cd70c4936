#include "coordinator/status_http.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/sha256.h"
#include "coordinator/blob_http.h"
#include "coordinator/dashboard.h"
#include "coordinator/metrics.h"
#include "coordinator/status_json.h"

namespace tributary::coordinator {
namespace {

constexpr char kBearerPrefix[] = "Bearer ";

struct Route {
  const char* path;
  bool needs_token;
  std::function<HttpResponse(const HttpRequest&)> render;
  bool prefix = false;  // matches every path that starts with `path`

  bool Matches(absl::string_view request_path) const {
    return prefix ? absl::StartsWith(request_path, path) : request_path == path;
  }
};

HttpResponse Content(std::string body, const char* content_type) {
  HttpResponse response;
  response.content_type = content_type;
  response.body = std::move(body);
  return response;
}

// Invalid UTF-8 from a client (a worker's name) is replaced, not thrown:
// this runs on the server's loop thread.
HttpResponse Json(const nlohmann::json& body) {
  return Content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

// `blobs` and `counters` are borrowed; StatusHttpServer keeps them alive.
// "ha": null for a coordinator on its own; the leader's term and address.
nlohmann::json LeadershipJson(const std::optional<StatusHttpOptions::Leadership>& leadership) {
  if (!leadership) return nullptr;
  return {{"role", "leader"}, {"term", leadership->term}, {"address", leadership->address}};
}

std::string LeadershipPrometheusText(const std::optional<StatusHttpOptions::Leadership>& leadership) {
  if (!leadership) return "";
  return absl::StrCat(
      "# HELP tributary_leader_term This coordinator leads; its term (etcd's create revision of the leader key)\n"
      "# TYPE tributary_leader_term gauge\n"
      "tributary_leader_term ",
      leadership->term, "\n");
}

std::vector<Route> Routes(TrainingRun& run, const BlobIndex& blobs, BlobCounters& counters,
                          const std::optional<StatusHttpOptions::Leadership>& leadership) {
  using Request = const HttpRequest&;
  return {
      {"/", false, [](Request) { return Content(kDashboardHtml, "text/html; charset=utf-8"); }},
      {"/healthz", false, [](Request) { return Content("ok\n", "text/plain"); }},
      {"/api/status", true,
       [&run, &counters, ha = LeadershipJson(leadership)](Request) {
         nlohmann::json status = StatusJson(run.Status());
         status["blobs"] = BlobStatsJson(counters.stats());
         status["ha"] = ha;
         return Json(status);
       }},
      {"/api/history", true, [&run](Request) { return Json(HistoryJson(run.History())); }},
      {"/api/ledger", true, [&run](Request) { return Json(LedgerJson(run.LedgerItems())); }},
      {"/api/blobs", true, [&counters](Request) { return Json(BlobServesJson(counters.PerDigest())); }},
      {"/metrics", true,
       [&run, &counters, term = LeadershipPrometheusText(leadership)](Request) {
         return Content(PrometheusText(run.Status()) + BlobPrometheusText(counters.stats()) + term,
                        kPrometheusContentType);
       }},
      // A digest is its own capability (blob_http.h): no token, so caches can serve it.
      {kBlobsPathPrefix.data(), false,
       [&blobs, &counters](Request request) { return ServeBlob(request, blobs, counters); }, /*prefix=*/true},
  };
}

// Digests first, so the comparison takes the same time whatever the lengths.
bool BearerMatches(absl::string_view authorization, const std::string& token) {
  if (!absl::ConsumePrefix(&authorization, kBearerPrefix)) return false;
  const Sha256Digest given = Sha256(authorization);
  const Sha256Digest expected = Sha256(token);
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

// With a token, unknown paths answer 401 too, so they reveal nothing.
HttpResponse Serve(const HttpRequest& request, const std::vector<Route>& routes, const std::string& token) {
  const auto route =
      std::find_if(routes.begin(), routes.end(), [&](const Route& r) { return r.Matches(request.path); });
  const bool needs_token = !token.empty() && (route == routes.end() || route->needs_token);
  if (needs_token && !BearerMatches(request.authorization, token)) {
    HttpResponse response = Content("a bearer token is needed\n", "text/plain");
    response.status = 401;
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
  }
  if (route == routes.end()) {
    HttpResponse response = Content("not found\n", "text/plain");
    response.status = 404;
    return response;
  }
  return route->render(request);
}

}  // namespace

absl::StatusOr<std::string> ReadBearerToken(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  std::string token(absl::StripTrailingAsciiWhitespace(*contents));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " holds no token"));
  return token;
}

absl::StatusOr<std::unique_ptr<StatusHttpServer>> StatusHttpServer::Start(const StatusHttpOptions& options,
                                                                         TrainingRun& run, const BlobIndex& blobs) {
  absl::StatusOr<HostPort> hp = SplitHostPort(options.address);
  if (!hp.ok()) return hp.status();
  auto counters = std::make_unique<BlobCounters>();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      hp->host, hp->port, options.limits,
      [routes = Routes(run, blobs, *counters, options.leadership),
       token = options.bearer_token](const HttpRequest& request) { return Serve(request, routes, token); });
  if (!server.ok()) return server.status();
  return std::unique_ptr<StatusHttpServer>(
      new StatusHttpServer(std::move(counters), *std::move(server), hp->host));
}

StatusHttpServer::StatusHttpServer(std::unique_ptr<BlobCounters> counters, std::unique_ptr<HttpServer> server,
                                   std::string host)
    : counters_(std::move(counters)), server_(std::move(server)), host_(std::move(host)) {}

std::string StatusHttpServer::url() const {
  const bool wildcard = host_.empty() || host_ == "0.0.0.0" || host_ == "::";
  if (wildcard) return absl::StrCat("http://localhost:", port(), "/");
  if (absl::StrContains(host_, ':')) return absl::StrCat("http://[", host_, "]:", port(), "/");
  return absl::StrCat("http://", host_, ":", port(), "/");
}

}  // namespace tributary::coordinator
