// Helpers for end-to-end tests: real coordinator and worker processes on
// 127.0.0.1, free ports chosen at run time, the status endpoint read over
// real HTTP.
#ifndef TRIBUTARY_TESTS_E2E_HARNESS_H_
#define TRIBUTARY_TESTS_E2E_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace tributary::testing {

// A child process whose stdout and stderr go to a log file. Killed (SIGKILL)
// and reaped on destruction if still running.
class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                         const std::string& log_path);
  ~Process();

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128 + signal when killed by one), or nullopt if the
  // process is still running after `timeout`.
  std::optional<int> Wait(absl::Duration timeout);
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

struct ListeningPorts {
  int grpc = 0;
  int http = 0;
};

// Finds the coordinator's "workers connect to port G; status page:
// http://localhost:H/" log line; nullopt until it has been written.
std::optional<ListeningPorts> ParseListeningPorts(const std::string& log);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// GET http://127.0.0.1:port/path: the body of a 200 response; with
// `bearer`, sent as "Authorization: Bearer ...".
absl::StatusOr<std::string> GetText(int port, const std::string& path, const std::string& bearer = "");

// GET http://127.0.0.1:port/path, parsed as JSON.
absl::StatusOr<nlohmann::json> GetJson(int port, const std::string& path);

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// Path of a built binary, e.g. Binary("tributary-worker").
std::string Binary(const std::string& name);

// A fresh, empty directory for one test's files (never one an earlier run left).
std::string TestDir(const std::string& name);

void WriteFile(const std::string& path, const std::string& contents);

// A coordinator plus workers, each logging to a file in the test's directory.
class Cluster {
 public:
  Cluster(const std::string& name, const std::string& job);

  const std::string& dir() const { return dir_; }

  // Starts the coordinator on ports it picks itself (no race with other
  // tests for a free port) and learns them from its log; `extra` flags
  // come after those, so a --listen there wins. Starting it again (after a
  // kill) replaces the old process; its log goes on in the same file.
  Process& StartCoordinator(const std::vector<std::string>& extra = {});
  Process& coordinator() { return *coordinator_; }
  int grpc_port() const { return grpc_port_; }

  // Workers connect to the coordinator's gRPC port, or to `port` once set
  // (a proxy in between).
  void set_worker_port(int port) { worker_port_ = port; }
  Process& StartWorker(const std::string& name, const std::vector<std::string>& extra = {});

  int http_port() const { return http_port_; }
  // The token GETs of the status endpoint carry (--http_token_file's).
  void set_http_token(const std::string& token) { http_token_ = token; }

  nlohmann::json Status() const { return Get("/api/status"); }
  std::string Text(const std::string& path) const;
  nlohmann::json Get(const std::string& path) const;

  bool WaitUntilDone(absl::Duration timeout) const;

  // The tail of everything the processes printed, for failure messages.
  std::string Logs() const;

 private:
  std::unique_ptr<Process> Start(const std::vector<std::string>& argv, const std::string& log);

  std::string dir_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::string http_token_;
  int worker_port_ = 0;
  std::unique_ptr<Process> coordinator_;
  std::vector<std::pair<std::string, std::unique_ptr<Process>>> workers_;  // By name; restarts append.
};

}  // namespace tributary::testing

#endif  // TRIBUTARY_TESTS_E2E_HARNESS_H_
