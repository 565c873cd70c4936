#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace tributary::testing {

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                         const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::ErrnoToStatus(rc, absl::StrCat("spawn ", argv[0]));
  return std::unique_ptr<Process>(new Process(pid, log_path));
}

Process::~Process() {
  if (!exit_code_) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
}

void Process::Signal(int sig) {
  if (!exit_code_) kill(pid_, sig);
}

std::optional<int> Process::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exit_code_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else if (absl::Now() >= deadline) {
      break;
    } else {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  return exit_code_;
}

std::string Process::Log() const {
  std::ifstream in(log_path_);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::optional<ListeningPorts> ParseListeningPorts(const std::string& log) {
  static const std::regex kLine(R"(workers connect to port (\d+); status page: http://\S+:(\d+)/)");
  std::smatch match;
  if (!std::regex_search(log, match, kLine)) return std::nullopt;
  return ListeningPorts{std::stoi(match[1]), std::stoi(match[2])};
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::string> GetText(int port, const std::string& path, const std::string& bearer) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  httplib::Headers headers;
  if (!bearer.empty()) headers.emplace("Authorization", "Bearer " + bearer);
  auto response = client.Get(path.c_str(), headers);
  if (!response) return absl::UnavailableError(absl::StrCat("GET ", path, " failed"));
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("GET ", path, ": HTTP ", response->status));
  }
  return response->body;
}

absl::StatusOr<nlohmann::json> GetJson(int port, const std::string& path) {
  absl::StatusOr<std::string> text = GetText(port, path);
  if (!text.ok()) return text.status();
  nlohmann::json body = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return absl::InternalError(absl::StrCat("GET ", path, ": not JSON"));
  return body;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

std::string Binary(const std::string& name) { return absl::StrCat(TRIBUTARY_BIN_DIR, "/", name); }

// mkdtemp, not the pid: a CI container's pids repeat from run to run while
// its /tmp may survive, and a reused directory's logs (opened for append)
// would hold an earlier run's "workers connect to port" line.
std::string TestDir(const std::string& name) {
  std::string pattern = absl::StrCat(::testing::TempDir(), "/tributary-", name, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << strerror(errno);
  }
  return pattern;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

Cluster::Cluster(const std::string& name, const std::string& job) : dir_(TestDir(name)) {
  WriteFile(dir_ + "/job.textproto", job);
}

Process& Cluster::StartCoordinator(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {Binary("tributary-coordinator"), "--job=" + dir_ + "/job.textproto",
                                   "--listen=127.0.0.1:0", "--http=127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  // Only this start's log lines count when looking for its ports.
  const size_t log_start = coordinator_ ? coordinator_->Log().size() : 0;
  coordinator_ = Start(argv, "coordinator");
  std::optional<ListeningPorts> ports;
  EXPECT_TRUE(WaitFor([&] { return (ports = ParseListeningPorts(coordinator_->Log().substr(log_start))).has_value(); },
                      absl::Seconds(60)))
      << coordinator_->Log();
  if (ports) {
    grpc_port_ = ports->grpc;
    http_port_ = ports->http;
  }
  return *coordinator_;
}

Process& Cluster::StartWorker(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {Binary("tributary-worker"),
                                   absl::StrCat("--coordinator=127.0.0.1:", worker_port_ ? worker_port_ : grpc_port_),
                                   "--name=" + name, "--threads=1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  workers_.emplace_back(name, Start(argv, name));
  return *workers_.back().second;
}

std::string Cluster::Text(const std::string& path) const {
  return GetText(http_port_, path, http_token_).value_or("");
}

nlohmann::json Cluster::Get(const std::string& path) const {
  nlohmann::json body = nlohmann::json::parse(Text(path), nullptr, /*allow_exceptions=*/false);
  return body.is_discarded() ? nlohmann::json() : body;
}

bool Cluster::WaitUntilDone(absl::Duration timeout) const {
  return WaitFor([&] { return Status().value("state", "") == "done"; }, timeout);
}

std::string Cluster::Logs() const {
  std::string all = coordinator_ ? "--- coordinator\n" + coordinator_->Log() : "";
  std::set<std::string> shown;  // A restarted worker's log goes on in the same file.
  for (const auto& [name, worker] : workers_) {
    if (shown.insert(name).second) all += "--- " + name + "\n" + worker->Log();
  }
  return all.size() > 20000 ? all.substr(all.size() - 20000) : all;
}

std::unique_ptr<Process> Cluster::Start(const std::vector<std::string>& argv, const std::string& log) {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(argv, dir_ + "/" + log + ".log");
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

}  // namespace tributary::testing
