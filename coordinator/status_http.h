// The status endpoint: routes and token screening over http_server.h, which
// owns the sockets and the limits. It only reads the run.
//
//   GET /              the HTML dashboard (dashboard.h); a static page that
//                      carries no run data, so it needs no token
//   GET /healthz       200 "ok" while the coordinator serves; never needs a token
//   GET /api/status    the status JSON (status_json.h)
//   GET /api/history   loss history for plotting
//   GET /api/ledger    every work item's lease and completion counts
//   GET /api/blobs     how often GET /blobs/ served each recent digest
//   GET /blobs/SHA256  a shard, model or delta by its digest (blob_http.h),
//                      for HTTP caches; never needs a token
//
// HEAD works on every route; any other method gets 405 and a request that
// announces a body gets 413, both before a byte of the body is read. Each
// connection serves one request ("Connection: close"); a request head must
// arrive within `limits.head_timeout` and fit in kMaxHeadBytes, and the
// number of connections is capped per client and in total (http_server.h).
// With a bearer token, every route but /, /healthz and /blobs/ answers 401 unless
// the request carries "Authorization: Bearer TOKEN"; the dashboard reads the
// token from its URL fragment (http://HOST:PORT/#token=TOKEN), which
// browsers never send.
#ifndef TRIBUTARY_COORDINATOR_STATUS_HTTP_H_
#define TRIBUTARY_COORDINATOR_STATUS_HTTP_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/address_list.h"
#include "coordinator/blob_counters.h"
#include "coordinator/blob_index.h"
#include "coordinator/http_server.h"
#include "coordinator/run.h"

namespace tributary::coordinator {

struct StatusHttpOptions {
  // HOST:PORT; port 0 picks a free one.
  std::string address = "127.0.0.1:8080";
  // When not empty, what "Authorization: Bearer" must carry.
  std::string bearer_token;
  HttpServerLimits limits;
  // Set on the leader of several coordinators (docs/HA.md): shown as
  // /api/status "ha" and the tributary_leader_term gauge.
  struct Leadership {
    int64_t term = 0;
    std::string address;  // --advertise
  };
  std::optional<Leadership> leadership;
};

class StatusHttpServer {
 public:
  // Binds options.address and starts serving. `run` and `blobs` are
  // borrowed and must outlive the server. UNAVAILABLE when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<StatusHttpServer>> Start(const StatusHttpOptions& options,
                                                                  TrainingRun& run, const BlobIndex& blobs);
  // Stops serving and closes every connection.
  ~StatusHttpServer() = default;

  int port() const { return server_->port(); }
  // Where a browser on this machine finds the dashboard: the bound host
  // (localhost for a wildcard address) and port.
  std::string url() const;

 private:
  StatusHttpServer(std::unique_ptr<BlobCounters> counters, std::unique_ptr<HttpServer> server, std::string host);

  std::unique_ptr<BlobCounters> counters_;  // before server_, whose loop counts into it
  std::unique_ptr<HttpServer> server_;
  std::string host_;
};

// The token in `path`, trailing whitespace stripped; an error naming the path
// if it cannot be read or holds none.
absl::StatusOr<std::string> ReadBearerToken(const std::string& path);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_STATUS_HTTP_H_
