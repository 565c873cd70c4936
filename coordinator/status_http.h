// The status endpoint: a small HTTP server (cpp-httplib) on its own thread
// that renders the run's state. It only reads the run.
//
//   GET /              the HTML dashboard (dashboard.h)
//   GET /healthz       200 "ok" while the coordinator serves
//   GET /api/status    the status JSON (status_json.h)
//   GET /api/history   loss history for plotting
//   GET /api/ledger    every work item's lease and completion counts
#ifndef TRIBUTARY_COORDINATOR_STATUS_HTTP_H_
#define TRIBUTARY_COORDINATOR_STATUS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/run.h"

namespace httplib {
class Server;
}

namespace tributary::coordinator {

class StatusHttpServer {
 public:
  // Binds `address` (HOST:PORT; port 0 picks a free one) and starts serving.
  // `run` is borrowed and must outlive the server.
  static absl::StatusOr<std::unique_ptr<StatusHttpServer>> Start(const std::string& address,
                                                                  TrainingRun& run);
  // Stops serving and joins the thread.
  ~StatusHttpServer();

  int port() const { return port_; }

 private:
  StatusHttpServer(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::thread thread_;
};

struct HostPort {
  std::string host;
  int port = 0;
};

// Splits "host:port" or "[v6]:port"; INVALID_ARGUMENT naming the address otherwise.
absl::StatusOr<HostPort> SplitHostPort(const std::string& address);

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_STATUS_HTTP_H_
