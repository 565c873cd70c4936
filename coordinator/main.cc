// tributary-coordinator: serves one training job to any number of workers.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/checkpoint.h"
#include "common/clock.h"
#include "common/codec/codec.h"
#include "common/file.h"
#include "common/job_spec.h"
#include "common/log.h"
#include "common/models/model.h"
#include "common/signals.h"
#include "common/usage.h"
#include "coordinator/checkpointer.h"
#include "coordinator/dataset.h"
#include "coordinator/failover.h"
#include "coordinator/grpc_log.h"
#include "coordinator/join_tokens.h"
#include "coordinator/run.h"
#include "coordinator/task_builder.h"
#include "coordinator/service.h"
#include "coordinator/status_http.h"
#include "coordinator/time_budget.h"
#include "coordinator/tls.h"

ABSL_FLAG(std::string, job, "", "Job spec (text-format JobSpec); empty runs the built-in default job");
ABSL_FLAG(std::string, listen, "0.0.0.0:7070", "gRPC address workers connect to (HOST:PORT)");
ABSL_FLAG(std::string, http, "127.0.0.1:8080",
          "Status endpoint address (HOST:PORT); this machine only unless set (README: Status page)");
ABSL_FLAG(std::string, http_token_file, "",
          "File holding a token the status endpoint then requires (Authorization: Bearer) on all but /, /healthz "
          "and /blobs/ (content by SHA-256 digest: a digest, handed out only over the authenticated gRPC API, is "
          "the capability, so an HTTP cache in front can serve it)");
ABSL_FLAG(std::string, join_token_file, "",
          "Join tokens, one per line as NAME TOKEN (or one bare token); the name is the volunteer's identity. "
          "SIGHUP reloads it: revoked tokens' sessions end");
ABSL_FLAG(std::string, unban_file, "",
          "Identities to lift bans from (token:NAME, cert:sha256:HEX or ip:ADDRESS), one per line; read at start "
          "and on SIGHUP");
ABSL_FLAG(bool, exit_when_done, false,
          "Exit 0 once the budget is spent, the final eval is done and the workers have heard it and left (at "
          "most the job's heartbeat timeout later)");
ABSL_FLAG(std::string, state_dir, "", "Directory for checkpoints (the whole run: weights, optimizer, shard "
          "ledger, counters), written as the job's checkpoint intervals say and at shutdown; a run found "
          "there is resumed; empty = none");
ABSL_FLAG(std::string, tls_cert, "", "Server certificate chain (PEM) for TLS on --listen; empty = plaintext");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls_cert");
ABSL_FLAG(std::string, etcd, "",
          "etcd endpoints (HOST:PORT[,HOST:PORT...]): run as one of several coordinators of the job, one leading "
          "and the others standing by (docs/HA.md); needs a --state_dir every coordinator shares and a --listen port");
ABSL_FLAG(std::string, etcd_prefix, "", "Prefix of this job's keys in etcd; empty = /tributary/<job name>");
ABSL_FLAG(int, etcd_ttl_s, 5,
          "Seconds of the leader's etcd lease: a dead leader is replaced about this long after it stopped renewing");
ABSL_FLAG(std::string, advertise, "",
          "HOST:PORT workers reach this coordinator at, which standbys tell them; empty = --listen, with this "
          "machine's host name for a wildcard host");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA certificate (PEM): when set, mutual TLS; every worker must present a certificate it signed");

namespace tributary::coordinator {
namespace {

struct CoordinatorOptions {
  std::string job_path;
  std::string listen;
  std::string http;
  std::string http_token_file;
  std::string join_token_file;
  std::string unban_file;
  bool exit_when_done = false;
  std::string state_dir;
  ServerTlsOptions tls;
  std::string etcd;
  std::string etcd_prefix;
  int etcd_ttl_s = 5;
  std::string advertise;
};

constexpr absl::Duration kShutdownGrace = absl::Seconds(2);
// How often the coordinator's timers run.
constexpr absl::Duration kTimerInterval = absl::Milliseconds(100);
// The evaluation thread's nice value (EvalLoop).
constexpr int kEvalNice = 10;

absl::StatusOr<JoinTokens> LoadJoinTokens(const std::string& path) {
  if (path.empty()) return JoinTokens();
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("--join_token_file: ", text.status().message()));
  absl::StatusOr<JoinTokens> tokens = JoinTokens::Parse(*text, path);
  if (!tokens.ok()) return absl::InvalidArgumentError(absl::StrCat("--join_token_file: ", tokens.status().message()));
  return tokens;
}

// Lifts the bans of the identities listed in --unban_file, if set.
void LiftBans(TrainingRun& run, const std::string& path) {
  if (path.empty()) return;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    TLOG(ERROR) << "--unban_file: " << text.status().message();
    return;
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
    const absl::string_view identity = absl::StripAsciiWhitespace(line);
    if (run.LiftBan(identity)) TLOG(INFO) << "ban lifted: " << SafeText(identity, 100);
  }
}

// SIGHUP: takes the edited token file (keeping the old one if it does not
// parse) and lifts the bans --unban_file lists.
void Reload(CoordinatorService& service, TrainingRun& run, const CoordinatorOptions& options) {
  if (!options.join_token_file.empty()) {
    absl::StatusOr<JoinTokens> tokens = LoadJoinTokens(options.join_token_file);
    if (tokens.ok()) {
      const size_t count = tokens->size();
      const int ended = service.SetJoinTokens(*std::move(tokens));
      TLOG(INFO) << "join tokens reloaded: " << count << " token(s); " << ended << " revoked session(s) ended";
    } else {
      TLOG(ERROR) << tokens.status().message() << "; keeping the tokens loaded before";
    }
  }
  LiftBans(run, options.unban_file);
}

absl::StatusOr<StatusHttpOptions> MakeHttpOptions(const CoordinatorOptions& options) {
  StatusHttpOptions http;
  http.address = options.http;
  if (options.http_token_file.empty()) return http;
  absl::StatusOr<std::string> token = ReadBearerToken(options.http_token_file);
  if (!token.ok()) return absl::InvalidArgumentError(absl::StrCat("--http_token_file: ", token.status().message()));
  http.bearer_token = *std::move(token);
  return http;
}

// The evaluation's batch: a task's, the activation arena a worker needs.
// A whole shard per batch made the flagship GPT job's coordinator hold
// ~3 GB of activations (8x a task's). The job is validated: local_steps >= 1.
int EvalBatchExamples(const tributary::v1::JobSpec& job) {
  return BatchExamples(job.data().shard_examples(), job.local_steps());
}

// Evaluates `model` (this thread's own) whenever the run asks, until `stop`.
// At a lower priority than the threads that serve workers: on a busy
// coordinator an evaluation waits (the schedule never builds a backlog,
// eval_schedule.h), a heartbeat does not.
void EvalLoop(TrainingRun& run, Model& model, const Dataset& dataset, const std::atomic<bool>& stop) {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kEvalNice) != 0) {
    TLOG(WARNING) << "evaluation thread: setpriority: " << strerror(errno) << "; it runs at normal priority";
  }
  const int64_t max_examples = run.job().eval().max_examples();
  absl::string_view test = dataset.test;
  if (max_examples > 0) test = test.substr(0, max_examples * dataset.example_bytes);
  const auto records = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(test.data()), test.size());
  while (!stop.load()) {
    std::optional<EvalRequest> request = run.WaitForEval(absl::Milliseconds(200));
    if (!request) continue;
    // Batches of the size the eval model was built for.
    absl::StatusOr<LossStats> stats =
        EvaluateInBatches(model, request->model->params(), records, EvalBatchExamples(run.job()));
    if (!stats.ok()) {
      // The test split and the model were both checked against the job.
      TLOG(ERROR) << "evaluation at version " << request->model->version << ": " << stats.status().message();
      std::abort();
    }
    run.RecordEval(*request, *stats);
  }
}

// "none" for a value that does not apply (a language model's accuracy) or
// is not known yet.
std::string OrNone(const std::optional<double>& value) { return value ? absl::StrCat(*value) : "none"; }

// With --exit_when_done, once the run is done: whether every worker has
// heard so and left, or the heartbeat timeout has passed since (a worker
// silent that long is lost anyway). Exiting at once would leave workers
// that were computing or polling to retry an address nobody answers.
bool DoneAndHeard(TrainingRun& run, std::optional<absl::Time>& done_since) {
  const int active = run.ActiveWorkers();
  const absl::Duration linger = absl::Seconds(run.job().lease().heartbeat_timeout_s());
  if (!done_since) {
    done_since = absl::Now();
    if (active > 0) TLOG(INFO) << "done; waiting up to " << linger << " for " << active << " worker(s) to leave";
  }
  return active == 0 || absl::Now() - *done_since >= linger;
}

// A new leader's first task leased, logged once with the time since it
// was elected: the end of a failover as workers see it.
class FirstLeaseLog {
 public:
  FirstLeaseLog(TrainingRun& run, int64_t term, absl::Time elected)
      : term_(term), elected_(elected), leased_before_(run.Status().tasks.leased) {}
  void Check(TrainingRun& run) {
    if (logged_ || run.Status().tasks.leased == leased_before_) return;
    logged_ = true;
    TLOG(INFO) << "term " << term_ << ": first task leased " << absl::Now() - elected_ << " after the election";
  }

 private:
  const int64_t term_;
  const absl::Time elected_;
  const int64_t leased_before_;
  bool logged_ = false;
};

// Runs the coordinator's timers (lost workers, expired leases, overdue
// streams, checkpoints) until SIGINT/SIGTERM, or until the run is finished
// (and its workers told) when asked to exit then; reloads on SIGHUP. One
// of several coordinators (`failover`) ends the process once it no longer
// leads.
void ServeUntilShutdown(TrainingRun& run, CoordinatorService& service, Checkpointer& checkpointer,
                        const CoordinatorOptions& options, Failover* failover, FirstLeaseLog* first_lease) {
  std::optional<absl::Time> done_since;
  while (true) {
    // A leader resumed after a freeze stops before it touches anything.
    if (failover != nullptr) failover->ExitUnlessLeading();
    if (first_lease != nullptr) first_lease->Check(run);
    if (const int sig = WaitForTerminationSignal(kTimerInterval); sig == SIGHUP) {
      Reload(service, run, options);
    } else if (sig != 0) {
      TLOG(INFO) << "signal " << sig << ": shutting down";
      return;
    }
    if (options.exit_when_done && run.WaitUntilDone(absl::ZeroDuration()) && DoneAndHeard(run, done_since)) return;
    run.Tick();
    service.CutOverdueStreams();
    checkpointer.MaybeWrite();
  }
}

// The run found in --state_dir, if any: the newest checkpoint that verifies.
absl::StatusOr<std::optional<LoadedCheckpoint>> FindRunToResume(const std::string& state_dir) {
  if (state_dir.empty() || ListCheckpoints(state_dir).empty()) return std::nullopt;
  absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpointToResume(state_dir);
  if (!loaded.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("--state_dir: no checkpoint in ", state_dir,
                                                      " verifies (", loaded.status().message(),
                                                      "); the files are left there"));
  }
  return std::optional<LoadedCheckpoint>(*std::move(loaded));
}

// `s` with the job it concerns in front: --job's file, or the built-in job.
absl::Status InJob(const CoordinatorOptions& options, const absl::Status& s) {
  const std::string job = options.job_path.empty() ? kDefaultJobName : absl::StrCat("--job ", options.job_path);
  return absl::Status(s.code(), absl::StrCat(job, ": ", s.message()));
}

// --etcd's settings, checked; nullopt without --etcd.
absl::StatusOr<std::optional<FailoverOptions>> MakeFailoverOptions(const CoordinatorOptions& options,
                                                                   const tributary::v1::JobSpec& job) {
  if (options.etcd.empty()) return std::nullopt;
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("--etcd needs --state_dir: a directory every coordinator of the job shares, "
                                      "where a new leader finds the checkpoint to resume from");
  }
  absl::StatusOr<HostPort> listen = SplitHostPort(options.listen);
  if (!listen.ok()) return absl::InvalidArgumentError(absl::StrCat("--listen: ", listen.status().message()));
  if (listen->port == 0) {
    return absl::InvalidArgumentError("--listen: with --etcd the port must be fixed (standbys tell workers the "
                                      "leader's address)");
  }
  if (options.etcd_ttl_s < 2 || options.etcd_ttl_s > 600) {
    return absl::InvalidArgumentError(absl::StrCat("--etcd_ttl_s: ", options.etcd_ttl_s, "; want 2 to 600 seconds"));
  }
  FailoverOptions failover;
  failover.etcd = options.etcd;
  failover.ttl = absl::Seconds(options.etcd_ttl_s);
  failover.state_dir = options.state_dir;
  failover.prefix = options.etcd_prefix.empty() ? absl::StrCat("/tributary/", job.name()) : options.etcd_prefix;
  while (absl::EndsWith(failover.prefix, "/")) failover.prefix.pop_back();
  failover.advertise = options.advertise;
  if (failover.advertise.empty()) {
    const bool wildcard = listen->host.empty() || listen->host == "0.0.0.0" || listen->host == "::";
    char host[256] = {};
    if (wildcard && gethostname(host, sizeof(host) - 1) != 0) {
      return absl::InvalidArgumentError("--advertise: this machine has no host name; set --advertise=HOST:PORT");
    }
    failover.advertise = wildcard ? absl::StrCat(host, ":", listen->port) : options.listen;
  }
  if (absl::StatusOr<HostPort> advertise = SplitHostPort(failover.advertise); !advertise.ok() || advertise->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--advertise: \"", failover.advertise, "\" is not HOST:PORT"));
  }
  return failover;
}

// What a coordinator among several learns when it is elected.
struct Takeover {
  std::optional<LoadedCheckpoint> resume;  // The checkpoint etcd names, verified.
  uint64_t last_applied = 0;               // The newest version any leader applied.
  absl::Time elected_at;
};

// Stands by until elected, then keeps the lease and reads what to go on
// from; nullopt when a signal came first.
absl::StatusOr<std::optional<Takeover>> StandByUntilElected(Failover& failover, const CoordinatorOptions& options,
                                                            std::shared_ptr<grpc::ServerCredentials> credentials) {
  absl::StatusOr<bool> elected = failover.WaitUntilElected(options.listen, std::move(credentials), options.http);
  if (!elected.ok()) return elected.status();
  if (!*elected) return std::nullopt;
  Takeover takeover;
  takeover.elected_at = absl::Now();
  failover.StartRenewing();
  absl::StatusOr<std::optional<LoadedCheckpoint>> resume = failover.CheckpointToResume();
  absl::StatusOr<uint64_t> last = failover.LastAppliedVersion();
  if (!resume.ok() || !last.ok()) {
    failover.Resign();
    return resume.ok() ? last.status() : resume.status();
  }
  takeover.resume = *std::move(resume);
  takeover.last_applied = *last;
  return std::optional<Takeover>(std::move(takeover));
}

// A leader's run: numbered after the newest version any leader applied,
// every new version fenced in etcd, and the checkpoints' fence.
CheckpointFence FenceTheRun(Failover& failover, TrainingRun& run, uint64_t last_applied) {
  run.SetVersionFence([&failover](uint64_t version) { failover.CommitVersion(version); });
  run.ContinueAfter(last_applied);
  TLOG(INFO) << "leading term " << failover.term() << " from version " << run.version()
             << " (the newest any leader applied: " << last_applied << ")";
  CheckpointFence fence;
  fence.may_write = [&failover] { return failover.MayWrite(); };
  fence.written = [&failover](const std::string& path, uint64_t version) { failover.RecordCheckpoint(path, version); };
  return fence;
}

absl::Status RunCoordinator(const CoordinatorOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = ServerCredentialsFromFiles(options.tls);
  if (!credentials.ok()) return credentials.status();
  // The built-in job is parsed like a file (its errors name it), not taken
  // from DefaultJobSpec(), which trusts it.
  absl::StatusOr<tributary::v1::JobSpec> job = options.job_path.empty()
                                                   ? ParseJobSpec(kDefaultJobText, kDefaultJobName)
                                                   : LoadJobSpec(options.job_path);
  if (!job.ok()) return job.status();
  absl::StatusOr<JoinTokens> join_tokens = LoadJoinTokens(options.join_token_file);
  if (!join_tokens.ok()) return join_tokens.status();
  absl::StatusOr<StatusHttpOptions> http_options = MakeHttpOptions(options);
  if (!http_options.ok()) return http_options.status();
  absl::StatusOr<std::optional<FailoverOptions>> failover_options = MakeFailoverOptions(options, *job);
  if (!failover_options.ok()) return failover_options.status();
  std::unique_ptr<Failover> failover;
  if (*failover_options) {
    absl::StatusOr<std::unique_ptr<Failover>> created = Failover::Create(**failover_options);
    if (!created.ok()) return created.status();
    failover = *std::move(created);
  }
  // A coordinator among several resumes what etcd names once elected.
  absl::StatusOr<std::optional<LoadedCheckpoint>> resume =
      failover ? std::optional<LoadedCheckpoint>() : FindRunToResume(options.state_dir);
  if (!resume.ok()) return resume.status();
  absl::StatusOr<std::unique_ptr<Dataset>> dataset = LoadDataset(*job);
  if (!dataset.ok()) return InJob(options, dataset.status());
  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(job->model());
  if (!model.ok()) return InJob(options, model.status());
  // Evaluation takes a task's batches (the activation arena a worker
  // needs, no more) on one thread: it runs beside the workers (local ones
  // share this machine), never a burst across all cores.
  absl::StatusOr<std::unique_ptr<Model>> eval_model =
      CreateModel(job->model(), {EvalBatchExamples(*job), /*threads=*/1});
  if (!eval_model.ok()) return InJob(options, eval_model.status());
  absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(job->codec(), (*model)->layout());
  if (!codec.ok()) return InJob(options, codec.status());

  const int64_t num_params = (*model)->layout().size();
  std::vector<float> params(num_params);
  (*model)->InitParams(absl::MakeSpan(params), job->seed());
  TLOG(INFO) << "job \"" << job->name() << "\" (" << (job->model().has_gpt() ? "gpt" : "mlp") << "): "
             << num_params << " parameters, "
             << (*dataset)->shards.size() << " shards x " << job->budget().epochs() << " epochs";

  std::optional<Takeover> takeover;
  if (failover) {
    absl::StatusOr<std::optional<Takeover>> elected = StandByUntilElected(*failover, options, *credentials);
    if (!elected.ok()) return elected.status();
    if (!*elected) return absl::OkStatus();  // Signalled while standing by.
    takeover = *std::move(*elected);
    resume = std::move(takeover->resume);
  }

  RealClock clock;
  const int aggregation_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  TrainingRun run(*job, **dataset, std::move(params), clock, aggregation_threads);
  if (*resume) {
    if (absl::Status s = run.Restore((*resume)->checkpoint); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("--state_dir: cannot resume ", (*resume)->path, ": ",
                                                        s.message(), "; start it with its own job, or use an "
                                                        "empty directory for a new run"));
    }
    const RunStatus status = run.Status();
    TLOG(INFO) << "resumed from " << (*resume)->path << ": version " << status.model_version << ", "
               << status.shards.done << "/" << status.shards.total << " shards done"
               << (status.done ? " (the run was already done)" : "");
  }
  Checkpointer checkpointer(run, failover ? failover->CheckpointDir() : options.state_dir, clock,
                            failover ? FenceTheRun(*failover, run, takeover->last_applied) : CheckpointFence());
  LiftBans(run, options.unban_file);
  CoordinatorService service(run, **dataset, **codec, *std::move(join_tokens), clock);
  LogTransportSecurity(options.tls, options.listen);
  absl::StatusOr<RunningServer> grpc_server = StartGrpcServer(options.listen, *credentials, &service);
  if (!grpc_server.ok()) return absl::UnavailableError(absl::StrCat("--listen: ", grpc_server.status().message()));
  if (failover) http_options->leadership = StatusHttpOptions::Leadership{failover->term(), failover->advertise()};
  absl::StatusOr<std::unique_ptr<StatusHttpServer>> http =
      StatusHttpServer::Start(*http_options, run, service.blobs());
  if (!http.ok()) return absl::UnavailableError(absl::StrCat("--http: ", http.status().message()));
  TLOG(INFO) << "workers connect to port " << grpc_server->port << "; status page: " << (*http)->url();

  std::atomic<bool> stop_eval{false};
  std::thread eval_thread(EvalLoop, std::ref(run), std::ref(**eval_model), std::cref(**dataset),
                          std::cref(stop_eval));
  std::optional<FirstLeaseLog> first_lease;
  if (failover) first_lease.emplace(run, failover->term(), takeover->elected_at);
  ServeUntilShutdown(run, service, checkpointer, options, failover.get(), first_lease ? &*first_lease : nullptr);

  grpc_server->server->Shutdown(absl::ToChronoTime(absl::Now() + kShutdownGrace));
  stop_eval = true;
  eval_thread.join();
  checkpointer.Write();
  if (failover) failover->Resign();  // A standby need not wait for the lease to run out.
  const RunStatus status = run.Status();
  TLOG(INFO) << "final: state=" << (status.done ? "done" : "running")
             << " model_version=" << status.model_version
             << " eval_loss=" << OrNone(status.eval_loss)
             << " eval_accuracy=" << OrNone(status.eval_accuracy)
             << " shards_done=" << status.shards.done << "/" << status.shards.total
             << " utilization=" << OrNone(Utilization(status.time))
             << " uptime_s=" << status.uptime_s;
  return absl::OkStatus();
}

}  // namespace
}  // namespace tributary::coordinator

int main(int argc, char** argv) {
  tributary::ParseFlags(argc, argv, "Serves a Tributary training job to workers.\n  tributary-coordinator --job=FILE");
  // Taken synchronously by WaitForShutdown.
  tributary::BlockTerminationSignals();
  tributary::coordinator::RouteGrpcLogs();

  tributary::coordinator::CoordinatorOptions options;
  options.job_path = absl::GetFlag(FLAGS_job);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.http = absl::GetFlag(FLAGS_http);
  options.http_token_file = absl::GetFlag(FLAGS_http_token_file);
  options.join_token_file = absl::GetFlag(FLAGS_join_token_file);
  options.unban_file = absl::GetFlag(FLAGS_unban_file);
  options.exit_when_done = absl::GetFlag(FLAGS_exit_when_done);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.tls.cert_path = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_path = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_path = absl::GetFlag(FLAGS_tls_client_ca);
  options.etcd = absl::GetFlag(FLAGS_etcd);
  options.etcd_prefix = absl::GetFlag(FLAGS_etcd_prefix);
  options.etcd_ttl_s = absl::GetFlag(FLAGS_etcd_ttl_s);
  options.advertise = absl::GetFlag(FLAGS_advertise);
  const absl::Status status = tributary::coordinator::RunCoordinator(options);
  if (!status.ok()) {
    std::fprintf(stderr, "tributary-coordinator: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
