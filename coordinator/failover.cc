#include "coordinator/failover.h"

#include <signal.h>

#include <cstdlib>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/signals.h"
#include "coordinator/http_server.h"
#include "coordinator/service.h"
#include "coordinator/standby_service.h"
#include "coordinator/status_http.h"

namespace tributary::coordinator {
namespace {

// "k1=v1 k2=v2 ..." as a map; INVALID_ARGUMENT for a field without '='.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SplitFields(absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (absl::string_view field : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
    const size_t eq = field.find('=');
    if (eq == absl::string_view::npos) return absl::InvalidArgumentError(absl::StrCat("no '=' in \"", field, "\""));
    fields.emplace_back(std::string(field.substr(0, eq)), std::string(field.substr(eq + 1)));
  }
  return fields;
}

// Reads the fields `want` names (each must be present once) from `text`.
absl::Status ReadFields(absl::string_view what, absl::string_view text,
                        const std::vector<std::pair<std::string, std::function<bool(const std::string&)>>>& want) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> fields = SplitFields(text);
  if (!fields.ok()) return absl::InvalidArgumentError(absl::StrCat(what, " record: ", fields.status().message()));
  for (const auto& [name, read] : want) {
    int seen = 0;
    for (const auto& [key, value] : *fields) {
      if (key != name) continue;
      if (++seen > 1 || !read(value)) {
        return absl::InvalidArgumentError(absl::StrCat(what, " record: bad or repeated ", name, " in \"", text, "\""));
      }
    }
    if (seen == 0) return absl::InvalidArgumentError(absl::StrCat(what, " record: no ", name, " in \"", text, "\""));
  }
  return absl::OkStatus();
}

auto Number(uint64_t& out) {
  return [&out](const std::string& value) { return absl::SimpleAtoi(value, &out); };
}
auto Number(int64_t& out) {
  return [&out](const std::string& value) { return absl::SimpleAtoi(value, &out) && out > 0; };
}

}  // namespace

std::string FormatCheckpointRecord(const CheckpointRecord& record) {
  return absl::StrCat("version=", record.version, " term=", record.term, " sha256=", record.sha256_hex,
                      " path=", record.path);
}

absl::StatusOr<CheckpointRecord> ParseCheckpointRecord(absl::string_view text) {
  CheckpointRecord record;
  absl::Status s = ReadFields(
      "checkpoint", text,
      {{"version", Number(record.version)},
       {"term", Number(record.term)},
       {"sha256",
        [&](const std::string& value) {
          record.sha256_hex = value;
          return ParseSha256Hex(value).ok();
        }},
       {"path", [&](const std::string& value) {
          record.path = value;
          // Relative, inside the state directory.
          return !value.empty() && value[0] != '/' && !absl::StrContains(value, "..");
        }}});
  if (!s.ok()) return s;
  return record;
}

std::string FormatVersionRecord(const VersionRecord& record) {
  return absl::StrCat("version=", record.version, " term=", record.term);
}

absl::StatusOr<VersionRecord> ParseVersionRecord(absl::string_view text) {
  VersionRecord record;
  absl::Status s = ReadFields("version", text, {{"version", Number(record.version)}, {"term", Number(record.term)}});
  if (!s.ok()) return s;
  return record;
}

std::string NodeDirName(absl::string_view advertise) {
  std::string name(advertise);
  for (char& c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-') c = '_';
  }
  return name;
}

absl::StatusOr<std::unique_ptr<Failover>> Failover::Create(const FailoverOptions& options) {
  absl::StatusOr<std::unique_ptr<EtcdClient>> etcd = EtcdClient::Create(options.etcd);
  if (!etcd.ok()) return absl::InvalidArgumentError(absl::StrCat("--etcd: ", etcd.status().message()));
  return std::unique_ptr<Failover>(new Failover(options, *std::move(etcd)));
}

Failover::Failover(const FailoverOptions& options, std::unique_ptr<EtcdClient> etcd)
    : options_(options),
      etcd_(std::move(etcd)),
      election_(*etcd_, clock_, ElectionOptions{Key("leader"), options.advertise, options.ttl}) {}

Failover::~Failover() { Resign(); }

std::string Failover::Key(absl::string_view name) const { return absl::StrCat(options_.prefix, "/", name); }

std::string Failover::CheckpointDir() const {
  if (options_.state_dir.empty()) return "";
  return absl::StrCat(options_.state_dir, "/", NodeDirName(options_.advertise));
}

absl::StatusOr<bool> Failover::WaitUntilElected(const std::string& listen,
                                                std::shared_ptr<grpc::ServerCredentials> credentials,
                                                const std::string& http) {
  StandbyService standby([this] { return election_.leader(); });
  absl::StatusOr<RunningServer> grpc_server = StartGrpcServer(listen, std::move(credentials), &standby);
  if (!grpc_server.ok()) return absl::UnavailableError(absl::StrCat("--listen: ", grpc_server.status().message()));
  absl::StatusOr<HostPort> http_address = SplitHostPort(http);
  if (!http_address.ok()) return absl::InvalidArgumentError(absl::StrCat("--http: ", http_address.status().message()));
  absl::StatusOr<std::unique_ptr<HttpServer>> http_server = HttpServer::Start(
      http_address->host, http_address->port, HttpServerLimits(), [this](const HttpRequest& request) {
        HttpResponse response;
        response.content_type = "text/plain";
        const std::string leader = election_.leader();
        if (request.path == "/healthz") {
          response.body = "standby\n";  // Alive: a liveness probe must not kill a standby.
        } else {
          response.status = 503;
          response.body = absl::StrCat("this coordinator is a standby; the leader is ",
                                       leader.empty() ? "not elected yet" : leader, "\n");
        }
        return response;
      });
  if (!http_server.ok()) return absl::UnavailableError(absl::StrCat("--http: ", http_server.status().message()));
  TLOG(INFO) << "standing by as " << options_.advertise << " (etcd " << options_.etcd << ", key "
             << Key("leader") << ", ttl " << options_.ttl << ")";

  std::string seen_leader;
  bool elected = false;
  while (true) {
    if (const int sig = WaitForTerminationSignal(election_.StepInterval()); sig != 0 && sig != SIGHUP) {
      TLOG(INFO) << "signal " << sig << ": leaving the election";
      break;
    }
    if (election_.Step() == Role::kLeader) {
      elected = true;
      break;
    }
    if (const std::string leader = election_.leader(); leader != seen_leader) {
      seen_leader = leader;
      TLOG(INFO) << "standby: the leader is " << (leader.empty() ? "not known" : leader);
    }
  }
  grpc_server->server->Shutdown(absl::ToChronoTime(absl::Now()));
  return elected;
}

absl::StatusOr<std::optional<LoadedCheckpoint>> Failover::CheckpointToResume() {
  absl::StatusOr<std::optional<StoredKey>> stored = etcd_->Get(Key("checkpoint"));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<LoadedCheckpoint>();
  absl::StatusOr<CheckpointRecord> record = ParseCheckpointRecord((*stored)->value);
  if (!record.ok()) return absl::DataLossError(absl::StrCat(Key("checkpoint"), ": ", record.status().message()));
  const std::string path = absl::StrCat(options_.state_dir, "/", record->path);
  absl::StatusOr<std::string> file = ReadFile(path);
  if (!file.ok()) {
    return absl::DataLossError(absl::StrCat("the checkpoint etcd names (", FormatCheckpointRecord(*record),
                                            ") cannot be read: ", file.status().message(),
                                            "; is --state_dir the directory every coordinator shares?"));
  }
  if (const std::string digest = Sha256Hex(Sha256(*file)); digest != record->sha256_hex) {
    return absl::DataLossError(absl::StrCat(path, " has SHA-256 ", digest, ", not the ", record->sha256_hex,
                                            " etcd recorded for it"));
  }
  absl::StatusOr<tributary::v1::Checkpoint> checkpoint = ParseCheckpointFile(*file, path);
  if (!checkpoint.ok()) return checkpoint.status();
  return std::optional<LoadedCheckpoint>(LoadedCheckpoint{*std::move(checkpoint), path});
}

absl::StatusOr<uint64_t> Failover::LastAppliedVersion() {
  absl::StatusOr<std::optional<StoredKey>> stored = etcd_->Get(Key("version"));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return 0;
  absl::StatusOr<VersionRecord> record = ParseVersionRecord((*stored)->value);
  if (!record.ok()) return absl::DataLossError(absl::StrCat(Key("version"), ": ", record.status().message()));
  return record->version;
}

void Failover::StartRenewing() {
  renewer_ = std::thread([this] {
    while (!stop_.load()) {
      if (election_.Step() == Role::kLost) Exit("the lease could not be renewed in time");
      absl::SleepFor(election_.StepInterval());
    }
  });
}

int64_t Failover::FencedWriteOrExit(absl::string_view key, absl::string_view value) {
  while (true) {
    absl::StatusOr<int64_t> revision = election_.Fence(key, value);
    if (revision.ok()) return *revision;
    if (absl::IsFailedPrecondition(revision.status())) Exit(revision.status().message());
    // The store did not answer: try again while the lease may still hold.
    TLOG(WARNING) << "etcd: " << key << ": " << revision.status().message() << "; retrying";
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void Failover::CommitVersion(uint64_t version) {
  const int64_t revision = FencedWriteOrExit(Key("version"), FormatVersionRecord({version, term()}));
  // The line tests/e2e/failover_test.cc reads: etcd's revision orders
  // every leader's versions on one line of time.
  TLOG(INFO) << "applied version " << version << " term " << term() << " etcd revision " << revision;
}

void Failover::RecordCheckpoint(const std::string& path, uint64_t version) {
  absl::StatusOr<std::string> file = ReadFile(path);
  if (!file.ok()) {
    TLOG(ERROR) << "checkpoint " << path << " not recorded in etcd: " << file.status().message();
    return;
  }
  CheckpointRecord record;
  record.version = version;
  record.term = term();
  record.sha256_hex = Sha256Hex(Sha256(*file));
  record.path = path.substr(options_.state_dir.size() + 1);
  FencedWriteOrExit(Key("checkpoint"), FormatCheckpointRecord(record));
  TLOG(INFO) << "etcd " << Key("checkpoint") << ": " << FormatCheckpointRecord(record);
}

void Failover::Resign() {
  stop_ = true;
  if (renewer_.joinable()) renewer_.join();
  election_.Resign();
}

void Failover::Exit(absl::string_view why) {
  TLOG(ERROR) << "lost leadership of term " << term() << " (" << why << "): stopping without writing anything; exit "
              << kLostLeadershipExitCode;
  std::_Exit(kLostLeadershipExitCode);
}

}  // namespace tributary::coordinator
