// loadgen: N simulated workers, each with its own session and its own two
// connections (control and bulk, as worker/client.cc), against a real
// coordinator on 127.0.0.1. Each joins, heartbeats at the job's interval,
// leases tasks, waits a simulated compute time, uploads a real encoded
// update (the job's codec, from a random update of the model's size: the
// coordinator decodes and applies it) and leases the next; at --churn it
// leaves and joins again. Stops by itself after --warmup + --duration.
//
//   build/bin/tributary-coordinator --job bench/loadgen.textproto
//       --listen 127.0.0.1:7070 --http 127.0.0.1:8080 &
//   build/bin/loadgen --workers 1000 --duration 60s --compute 2s
//
// Prints, for the --duration window after --warmup: calls/s and latency
// percentiles per RPC (heartbeats also split by whether an upload of this
// process was streaming when they started), errors by status code, tasks
// per worker (min/max), updates applied/s (from the coordinator's
// /metrics), and the coordinator's CPU time, peak RSS and RSS every
// --sample_every. The coordinator's pid comes from --coordinator_pid or
// from whoever listens on the gRPC port.
//
// Downloads are off by default (--download_fraction 0): 1,000 workers
// fetching a 13 MB model each would measure loopback bandwidth, not the
// coordinator's lock. A fraction of tasks (sampled) fetches its model and
// shard when set. --uploads=false leases tasks and drops them (GetTask
// releases the previous lease), for the latency without uploads.
//
// Threads: one timer thread starts every call; gRPC's callback API
// (stub->async()) completes them on its own few threads. No thread per
// worker. The latencies include this process's own scheduling delays: it
// shares the machine's cores with the coordinator.
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/codec/codec.h"
#include "common/models/model.h"
#include "common/usage.h"
#include "common/wire.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"
#include "worker/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7070", "The coordinator's gRPC address");
ABSL_FLAG(std::string, http, "127.0.0.1:8080", "The coordinator's status address (for /metrics)");
ABSL_FLAG(int, coordinator_pid, 0, "The coordinator's pid; 0: whoever listens on --target's port");
ABSL_FLAG(int, workers, 1000, "Simulated workers");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(10), "Before the measured window; joins are spread over it");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(60), "The measured window");
ABSL_FLAG(absl::Duration, compute, absl::Seconds(2), "Simulated compute time per task");
ABSL_FLAG(double, jitter, 0.5, "Compute time is uniform in compute * [1 - jitter, 1 + jitter]");
ABSL_FLAG(bool, uploads, true, "Upload an update per task (false: lease tasks and drop them)");
ABSL_FLAG(double, download_fraction, 0, "Fraction of tasks that fetch their model and shard first");
ABSL_FLAG(double, churn, 0.05, "Fraction of workers that leave and rejoin per minute");
ABSL_FLAG(absl::Duration, rejoin_after, absl::Seconds(1), "Pause between a churning worker's leave and join");
ABSL_FLAG(int, payloads, 4, "Distinct encoded updates the workers take turns sending");
ABSL_FLAG(absl::Duration, sample_every, absl::Seconds(5), "Coordinator RSS sampling interval");
ABSL_FLAG(uint64_t, seed, 1, "Seeds compute times, churn and updates");

namespace tributary::bench {
namespace {

using tributary::v1::Coordinator;

constexpr absl::Duration kUnaryTimeout = absl::Seconds(5);
constexpr absl::Duration kJoinTimeout = absl::Seconds(10);
// An upload's deadline, as the worker's TransferTimeout at loopback speed
// plus the wait for the apply.
constexpr absl::Duration kUploadTimeout = absl::Seconds(60);
constexpr absl::Duration kErrorBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxRetryHint = absl::Seconds(30);
// Latency samples kept per RPC: a bound far above a 60 s run's calls.
constexpr size_t kMaxSamples = 4'000'000;
constexpr size_t kMaxHttpBytes = 4 << 20;

struct Options {
  std::string target;
  std::string http;
  int coordinator_pid = 0;
  int workers = 0;
  absl::Duration warmup;
  absl::Duration duration;
  absl::Duration compute;
  double jitter = 0;
  bool uploads = true;
  double download_fraction = 0;
  double churn_per_minute = 0;
  absl::Duration rejoin_after;
  int payloads = 1;
  absl::Duration sample_every;
  uint64_t seed = 1;
};

enum Rpc { kJoin, kHeartbeat, kHeartbeatUploading, kGetTask, kFetchModel, kFetchShard, kSubmit, kLeave, kRpcs };
constexpr const char* kRpcNames[kRpcs] = {"Join",       "Heartbeat", "  while uploading", "GetTask",
                                          "FetchModel", "FetchShard", "SubmitUpdate",     "Leave"};

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "?";
}

// Latencies and outcomes per RPC, of the calls that started inside the
// measured window. Thread-safe.
class CallStats {
 public:
  void Open(absl::Time start, absl::Time end) {
    absl::MutexLock lock(&mu_);
    window_start_ = start;
    window_end_ = end;
  }
  void Record(Rpc rpc, absl::Time started, absl::Time ended, const grpc::Status& status) {
    const grpc::StatusCode code = status.error_code();
    absl::MutexLock lock(&mu_);
    if (started < window_start_ || started >= window_end_) return;
    if (++codes_[rpc][code] == 1 && code != grpc::StatusCode::OK) first_messages_[rpc][code] = status.error_message();
    if (code == grpc::StatusCode::OK && samples_[rpc].size() < kMaxSamples) {
      samples_[rpc].push_back(absl::ToDoubleMilliseconds(ended - started));
    }
  }
  void Print(absl::Duration window) {
    absl::MutexLock lock(&mu_);
    std::printf("%-18s %8s %8s %8s %8s %8s %8s  %s\n", "rpc", "ok", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
                "errors");
    for (int rpc = 0; rpc < kRpcs; ++rpc) {
      std::vector<double>& s = samples_[rpc];
      std::sort(s.begin(), s.end());
      auto at = [&s](double q) { return s.empty() ? 0.0 : s[std::min(s.size() - 1, size_t(q * s.size()))]; };
      std::string errors;
      for (const auto& [code, n] : codes_[rpc]) {
        if (code != grpc::StatusCode::OK) {
          absl::StrAppend(&errors, CodeName(code), "=", n, " (\"", first_messages_[rpc][code].substr(0, 60), "\") ");
        }
      }
      std::printf("%-18s %8zu %8.1f %8.2f %8.2f %8.2f %8.2f  %s\n", kRpcNames[rpc], s.size(),
                  s.size() / absl::ToDoubleSeconds(window), at(0.5), at(0.9), at(0.99), s.empty() ? 0 : s.back(),
                  errors.c_str());
    }
  }

 private:
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time window_end_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::vector<double> samples_[kRpcs] ABSL_GUARDED_BY(mu_);
  std::map<grpc::StatusCode, int64_t> codes_[kRpcs] ABSL_GUARDED_BY(mu_);
  // The first message of each error, to say what it was.
  std::map<grpc::StatusCode, std::string> first_messages_[kRpcs] ABSL_GUARDED_BY(mu_);
};

// Runs callbacks at given times on one thread. Callbacks must not block:
// they start asynchronous calls and return.
class Timers {
 public:
  Timers() : thread_([this] { Loop(); }) {}
  ~Timers() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      cv_.Signal();
    }
    thread_.join();
  }
  void At(absl::Time when, std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    heap_.push(Entry{when, seq_++, std::move(fn)});
    cv_.Signal();
  }
  void After(absl::Duration d, std::function<void()> fn) { At(absl::Now() + d, std::move(fn)); }

 private:
  struct Entry {
    absl::Time when;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Entry& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      if (heap_.empty()) {
        cv_.Wait(&mu_);
        continue;
      }
      if (heap_.top().when > absl::Now()) {
        cv_.WaitWithDeadline(&mu_, heap_.top().when);
        continue;
      }
      std::function<void()> fn = heap_.top().fn;
      heap_.pop();
      mu_.Unlock();
      fn();
      mu_.Lock();
    }
  }

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

std::optional<absl::Duration> RetryHint(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kRetryAfterMetadataKey);
  int64_t ms = 0;
  if (it == trailers.end() || !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &ms)) {
    return std::nullopt;
  }
  return std::min(absl::Milliseconds(ms), kMaxRetryHint);
}

struct SimWorker {
  int index = 0;
  std::unique_ptr<Coordinator::Stub> control;
  std::unique_ptr<Coordinator::Stub> bulk;
  absl::Mutex mu;
  std::string token ABSL_GUARDED_BY(mu);
  uint64_t session ABSL_GUARDED_BY(mu) = 0;  // Bumped at every join: ends the old heartbeat chain.
  uint64_t task_id ABSL_GUARDED_BY(mu) = 0;
  absl::Time leave_at ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
  std::mt19937_64 rng ABSL_GUARDED_BY(mu);
  std::atomic<int64_t> tasks{0};
  std::atomic<int64_t> applied{0};
  std::atomic<int64_t> joins{0};
  std::atomic<bool> done{false};
};

// Uploads one update: the header, then kMaxChunkBytes pieces of a shared
// payload. Deletes itself when the call ends.
class Upload final : public grpc::ClientWriteReactor<tributary::v1::SubmitUpdateChunk> {
 public:
  using Done = std::function<void(const grpc::Status&, const tributary::v1::SubmitUpdateResponse&,
                                  const grpc::ClientContext&)>;
  Upload(Coordinator::Stub& stub, const std::string& token, const tributary::v1::UpdateHeader& header,
         std::shared_ptr<const std::string> payload, Done done)
      : payload_(std::move(payload)), done_(std::move(done)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kUploadTimeout));
    context_.AddMetadata(kSessionMetadataKey, absl::StrCat(kBearerPrefix, token));
    stub.async()->SubmitUpdate(&context_, &response_, this);
    *chunk_.mutable_header() = header;
    StartWrite(&chunk_);
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return;  // The server ended the call; OnDone follows.
    if (offset_ >= payload_->size()) {
      StartWritesDone();
      return;
    }
    chunk_.set_data(payload_->substr(offset_, kMaxChunkBytes));
    offset_ += kMaxChunkBytes;
    StartWrite(&chunk_);
  }
  void OnDone(const grpc::Status& status) override {
    done_(status, response_, context_);
    delete this;
  }

 private:
  grpc::ClientContext context_;
  tributary::v1::SubmitUpdateResponse response_;
  tributary::v1::SubmitUpdateChunk chunk_;
  std::shared_ptr<const std::string> payload_;
  size_t offset_ = 0;
  Done done_;
};

// Reads a download (a model or a shard) to its end. Deletes itself.
class Download final : public grpc::ClientReadReactor<tributary::v1::Chunk> {
 public:
  using Done = std::function<void(const grpc::Status&)>;
  Download(Coordinator::Stub& stub, const std::string& token, uint64_t version, Done done) : done_(std::move(done)) {
    Prepare(token);
    model_.set_version(version);
    stub.async()->FetchModel(&context_, &model_, this);
    Start();
  }
  Download(Coordinator::Stub& stub, const std::string& token, const tributary::v1::FetchShardRequest& shard,
           Done done)
      : shard_(shard), done_(std::move(done)) {
    Prepare(token);
    stub.async()->FetchShard(&context_, &shard_, this);
    Start();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&chunk_);
  }
  void OnDone(const grpc::Status& status) override {
    done_(status);
    delete this;
  }

 private:
  void Prepare(const std::string& token) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kUploadTimeout));
    context_.AddMetadata(kSessionMetadataKey, absl::StrCat(kBearerPrefix, token));
  }
  void Start() {
    StartRead(&chunk_);
    StartCall();
  }

  grpc::ClientContext context_;
  tributary::v1::FetchModelRequest model_;
  tributary::v1::FetchShardRequest shard_;
  tributary::v1::Chunk chunk_;
  Done done_;
};

// Reads a process's CPU time and memory from /proc.
struct ProcSample {
  double cpu_s = 0;
  int64_t rss_kb = 0;
  int64_t peak_rss_kb = 0;
  int threads = 0;
};

std::optional<ProcSample> ReadProc(int pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  // Fields after the command name, which may hold spaces: state is field 3,
  // utime and stime fields 14 and 15.
  std::vector<std::string> fields = absl::StrSplit(line.substr(line.rfind(')') + 2), ' ');
  if (fields.size() < 13) return std::nullopt;
  ProcSample s;
  s.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  while (std::getline(status, line)) {
    std::istringstream in(line);
    std::string key;
    int64_t value = 0;
    in >> key >> value;
    if (key == "VmRSS:") s.rss_kb = value;
    if (key == "VmHWM:") s.peak_rss_kb = value;
    if (key == "Threads:") s.threads = static_cast<int>(value);
  }
  return s;
}

// The pid of the process listening on TCP `port` (this user's processes).
int FindListener(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line, inode;
  std::getline(tcp, line);
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
    in >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (state == "0A" && local.substr(local.find(':') + 1) == absl::StrFormat("%04X", port)) break;
    inode.clear();
  }
  if (inode.empty()) return 0;
  const std::string want = absl::StrCat("socket:[", inode, "]");
  DIR* proc = opendir("/proc");
  int found = 0;
  for (dirent* e; found == 0 && proc != nullptr && (e = readdir(proc)) != nullptr;) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* fds = opendir(fd_dir.c_str());
    for (dirent* f; fds != nullptr && (f = readdir(fds)) != nullptr;) {
      char target[64];
      const ssize_t n = readlink(absl::StrCat(fd_dir, "/", f->d_name).c_str(), target, sizeof(target) - 1);
      if (n > 0 && std::string(target, n) == want) {
        found = pid;
        break;
      }
    }
    if (fds != nullptr) closedir(fds);
  }
  if (proc != nullptr) closedir(proc);
  return found;
}

// GET `path` from HOST:PORT over plain HTTP/1.0; the body, or nullopt.
std::optional<std::string> HttpGet(const std::string& address, const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(address, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) return std::nullopt;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, "\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      for (ssize_t n; response.size() < kMaxHttpBytes && (n = read(fd, buf, sizeof(buf))) > 0;) {
        response.append(buf, n);
      }
    }
  }
  if (fd >= 0) close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

std::optional<double> Metric(const std::string& text, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, name) && absl::ConsumePrefix(&line, " ")) {
      double v = 0;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return std::nullopt;
}

class LoadGen {
 public:
  explicit LoadGen(Options options) : options_(std::move(options)) {}

  // Joins one probe session to learn the job (model, codec, heartbeat
  // interval) and builds the payloads every worker sends.
  absl::Status Prepare();
  void Run();

 private:
  void Join(SimWorker& w);
  void HeartbeatLoop(SimWorker& w, uint64_t session);
  void NextTask(SimWorker& w);
  void Fetch(SimWorker& w, const tributary::v1::Task& task);
  void Compute(SimWorker& w, const tributary::v1::Task& task);
  void Submit(SimWorker& w, const tributary::v1::Task& task, absl::Duration compute);
  void Leave(SimWorker& w, bool rejoin);
  // After a failed call: the coordinator's retry hint, a rejoin, or a pause.
  void Recover(SimWorker& w, const grpc::Status& status, const grpc::ClientContext& context,
               std::function<void()> retry);
  bool Stopping() const { return absl::Now() >= stop_at_; }
  double Uniform(SimWorker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu);
  absl::Time NextLeave(SimWorker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu);

  template <typename Request, typename Response, typename Start>
  void Unary(SimWorker& w, Rpc rpc, Request request, absl::Duration timeout, Start start,
             std::function<void(const grpc::Status&, const Response&, const grpc::ClientContext&)> done);

  void SampleCoordinator();
  void Report();

  Options options_;
  int pid_ = 0;
  absl::Duration heartbeat_interval_;
  std::vector<std::shared_ptr<const std::string>> payloads_;
  std::string codec_name_;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  CallStats stats_;
  std::atomic<int> uploading_{0};
  std::atomic<int> in_flight_{0};  // Calls whose callbacks have yet to run.
  std::atomic<int64_t> revoked_{0};
  std::atomic<uint64_t> newest_version_{0};  // The newest model version a submit reply named.
  absl::Time start_, window_start_, stop_at_;
  Timers timers_;
  absl::Mutex samples_mu_;
  std::vector<std::pair<absl::Duration, ProcSample>> samples_ ABSL_GUARDED_BY(samples_mu_);
  std::optional<double> applied_start_, applied_end_;
  std::optional<ProcSample> proc_start_, proc_end_;
  double self_cpu_start_ = 0;
};

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

absl::Status LoadGen::Prepare() {
  auto channel =
      grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), worker::WorkerChannelArgs());
  auto stub = Coordinator::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kJoinTimeout));
  context.set_wait_for_ready(true);
  tributary::v1::JoinRequest request;
  request.set_name("loadgen-probe");
  tributary::v1::JoinResponse joined;
  if (grpc::Status s = stub->Join(&context, request, &joined); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("probe join: ", s.error_message()));
  }
  grpc::ClientContext leave;
  leave.AddMetadata(kSessionMetadataKey, absl::StrCat(kBearerPrefix, joined.session_token()));
  tributary::v1::LeaveResponse left;
  stub->Leave(&leave, {}, &left).IgnoreError();
  heartbeat_interval_ = absl::Seconds(joined.heartbeat_interval_s());

  absl::StatusOr<std::unique_ptr<Model>> model = CreateModel(joined.model());
  if (!model.ok()) return model.status();
  absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(joined.codec(), (*model)->layout());
  if (!codec.ok()) return codec.status();
  codec_name_ = std::string((*codec)->name());
  // A pseudo-gradient's scale (AdamW lr 3e-3 over 8 steps is ~1e-3 a
  // value); small enough that the applied updates keep the model finite.
  std::mt19937_64 rng(options_.seed);
  std::normal_distribution<float> normal(0, 1e-4f);
  std::vector<float> update((*model)->layout().size());
  for (int i = 0; i < options_.payloads; ++i) {
    for (float& v : update) v = normal(rng);
    std::unique_ptr<Encoder> encoder = (*codec)->NewEncoder();
    payloads_.push_back(std::make_shared<const std::string>(encoder->Encode(update)));
  }
  std::printf("job %s: %zu parameters, codec %s, %zu bytes per update, heartbeat every %s\n",
              joined.job_name().c_str(), update.size(), codec_name_.c_str(), payloads_[0]->size(),
              absl::FormatDuration(heartbeat_interval_).c_str());

  pid_ = options_.coordinator_pid;
  if (pid_ == 0) {
    int port = 0;
    absl::SimpleAtoi(options_.target.substr(options_.target.rfind(':') + 1), &port);
    pid_ = FindListener(port);
  }
  if (pid_ == 0 || !ReadProc(pid_)) return absl::NotFoundError("no coordinator pid (--coordinator_pid)");
  return absl::OkStatus();
}

double LoadGen::Uniform(SimWorker& w) {
  return std::uniform_real_distribution<double>(0, 1)(w.rng);
}

absl::Time LoadGen::NextLeave(SimWorker& w) {
  if (options_.churn_per_minute <= 0) return absl::InfiniteFuture();
  const double minutes = std::exponential_distribution<double>(options_.churn_per_minute)(w.rng);
  return absl::Now() + absl::Minutes(minutes);
}

template <typename Request, typename Response, typename Start>
void LoadGen::Unary(SimWorker& w, Rpc rpc, Request request, absl::Duration timeout, Start start,
                    std::function<void(const grpc::Status&, const Response&, const grpc::ClientContext&)> done) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
    absl::Time started;
  };
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  {
    absl::MutexLock lock(&w.mu);
    if (!w.token.empty()) call->context.AddMetadata(kSessionMetadataKey, absl::StrCat(kBearerPrefix, w.token));
  }
  if (rpc == kHeartbeat && uploading_.load() > 0) rpc = kHeartbeatUploading;
  call->started = absl::Now();
  ++in_flight_;
  start(&call->context, &call->request, &call->response, [this, call, rpc, done](grpc::Status status) {
    stats_.Record(rpc, call->started, absl::Now(), status);
    if (rpc == kHeartbeatUploading) stats_.Record(kHeartbeat, call->started, absl::Now(), status);
    done(status, call->response, call->context);
    --in_flight_;
  });
}

void LoadGen::Join(SimWorker& w) {
  if (Stopping()) {
    w.done = true;
    return;
  }
  tributary::v1::JoinRequest request;
  request.set_name(absl::StrCat("loadgen-", w.index));
  request.set_device("sim");
  {
    absl::MutexLock lock(&w.mu);
    w.token.clear();
  }
  Unary<tributary::v1::JoinRequest, tributary::v1::JoinResponse>(
      w, kJoin, request, kJoinTimeout,
      [&w](auto* c, auto* q, auto* r, auto f) { w.control->async()->Join(c, q, r, std::move(f)); },
      [this, &w](const grpc::Status& status, const tributary::v1::JoinResponse& joined,
                 const grpc::ClientContext& context) {
        if (!status.ok()) {
          const std::optional<absl::Duration> hint = RetryHint(context);
          timers_.After(hint ? *hint : kErrorBackoff, [this, &w] { Join(w); });
          return;
        }
        uint64_t session;
        {
          absl::MutexLock lock(&w.mu);
          w.token = joined.session_token();
          session = ++w.session;
          w.task_id = 0;
          w.leave_at = NextLeave(w);
        }
        ++w.joins;
        timers_.After(heartbeat_interval_, [this, &w, session] { HeartbeatLoop(w, session); });
        NextTask(w);
      });
}

void LoadGen::HeartbeatLoop(SimWorker& w, uint64_t session) {
  tributary::v1::HeartbeatRequest request;
  {
    absl::MutexLock lock(&w.mu);
    if (w.session != session || w.token.empty()) return;  // Left, or joined again with a chain of its own.
    request.set_task_id(w.task_id);
    if (w.task_id != 0) request.add_held_task_ids(w.task_id);
  }
  if (Stopping()) return;
  Unary<tributary::v1::HeartbeatRequest, tributary::v1::HeartbeatResponse>(
      w, kHeartbeat, request, kUnaryTimeout,
      [&w](auto* c, auto* q, auto* r, auto f) { w.control->async()->Heartbeat(c, q, r, std::move(f)); },
      [this, &w, session](const grpc::Status&, const tributary::v1::HeartbeatResponse& response,
                          const grpc::ClientContext&) {
        revoked_ += response.revoked_task_ids_size();
        timers_.After(heartbeat_interval_, [this, &w, session] { HeartbeatLoop(w, session); });
      });
}

void LoadGen::NextTask(SimWorker& w) {
  bool leave = false;
  {
    absl::MutexLock lock(&w.mu);
    w.task_id = 0;
    leave = absl::Now() >= w.leave_at;
  }
  if (Stopping() || leave) {
    Leave(w, !Stopping());
    return;
  }
  Unary<tributary::v1::GetTaskRequest, tributary::v1::GetTaskResponse>(
      w, kGetTask, {}, kUnaryTimeout,
      [&w](auto* c, auto* q, auto* r, auto f) { w.control->async()->GetTask(c, q, r, std::move(f)); },
      [this, &w](const grpc::Status& status, const tributary::v1::GetTaskResponse& response,
                 const grpc::ClientContext& context) {
        if (!status.ok()) {
          Recover(w, status, context, [this, &w] { NextTask(w); });
        } else if (response.has_task()) {
          ++w.tasks;
          {
            absl::MutexLock lock(&w.mu);
            w.task_id = response.task().task_id();
          }
          Fetch(w, response.task());
        } else if (response.job_done()) {
          Leave(w, false);
        } else {
          timers_.After(absl::Seconds(response.retry_after_s()), [this, &w] { NextTask(w); });
        }
      });
}

void LoadGen::Fetch(SimWorker& w, const tributary::v1::Task& task) {
  bool fetch;
  std::string token;
  {
    absl::MutexLock lock(&w.mu);
    fetch = Uniform(w) < options_.download_fraction;
    token = w.token;
  }
  if (!fetch) {
    Compute(w, task);
    return;
  }
  // The model, then the shard; a failed download costs the task (the lease
  // is dropped at the next GetTask), as it does a real worker.
  const absl::Time started = absl::Now();
  ++in_flight_;
  new Download(
      *w.bulk, token, task.base_version(), [this, &w, task, token, started](const grpc::Status& status) {
        --in_flight_;
        stats_.Record(kFetchModel, started, absl::Now(), status);
        if (!status.ok()) {
          timers_.After(kErrorBackoff, [this, &w] { NextTask(w); });
          return;
        }
        const absl::Time shard_started = absl::Now();
        tributary::v1::FetchShardRequest shard;
        shard.set_shard_id(task.shard_id());
        ++in_flight_;
        new Download(
            *w.control, token, shard, [this, &w, task, shard_started](const grpc::Status& status) {
              --in_flight_;
              stats_.Record(kFetchShard, shard_started, absl::Now(), status);
              if (!status.ok()) {
                timers_.After(kErrorBackoff, [this, &w] { NextTask(w); });
                return;
              }
              Compute(w, task);
            });
      });
}

void LoadGen::Compute(SimWorker& w, const tributary::v1::Task& task) {
  absl::Duration compute;
  {
    absl::MutexLock lock(&w.mu);
    compute = options_.compute * (1 + options_.jitter * (2 * Uniform(w) - 1));
  }
  timers_.After(compute, [this, &w, task, compute] {
    if (!options_.uploads || Stopping()) {
      NextTask(w);
    } else {
      Submit(w, task, compute);
    }
  });
}

void LoadGen::Submit(SimWorker& w, const tributary::v1::Task& task, absl::Duration compute) {
  tributary::v1::UpdateHeader header;
  header.set_task_id(task.task_id());
  // The newest version any submit reply named, as a worker with overlap
  // computes on the newest model it has fetched: from the task's own
  // version, 1,000 workers' updates would all be over the staleness bound.
  header.set_base_version(std::max<uint64_t>(task.base_version(), newest_version_.load()));
  header.set_epoch(task.epoch());
  header.set_shard_id(task.shard_id());
  header.set_codec(codec_name_);
  std::shared_ptr<const std::string> payload = payloads_[(w.index + w.tasks) % payloads_.size()];
  header.set_encoded_bytes(payload->size());
  header.set_loss(3.0f);
  header.set_examples(task.shard_examples());
  header.mutable_time()->set_compute_s(absl::ToDoubleSeconds(compute));
  std::string token;
  {
    absl::MutexLock lock(&w.mu);
    token = w.token;
  }
  const absl::Time started = absl::Now();
  ++uploading_;
  ++in_flight_;
  new Upload(*w.bulk, token, header, std::move(payload),
             [this, &w, task, compute, started](const grpc::Status& status,
                                                const tributary::v1::SubmitUpdateResponse& response,
                                                const grpc::ClientContext& context) {
               --uploading_;
               --in_flight_;
               stats_.Record(kSubmit, started, absl::Now(), status);
               if (status.ok()) {
                 if (response.applied()) ++w.applied;
                 for (uint64_t v = newest_version_.load(); v < response.model_version();) {
                   if (newest_version_.compare_exchange_weak(v, response.model_version())) break;
                 }
                 NextTask(w);
               } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && RetryHint(context)) {
                 // Too many uploads at once: the same update again after the hint.
                 timers_.After(*RetryHint(context), [this, &w, task, compute] { Submit(w, task, compute); });
               } else {
                 Recover(w, status, context, [this, &w] { NextTask(w); });
               }
             });
}

void LoadGen::Leave(SimWorker& w, bool rejoin) {
  Unary<tributary::v1::LeaveRequest, tributary::v1::LeaveResponse>(
      w, kLeave, {}, kUnaryTimeout,
      [&w](auto* c, auto* q, auto* r, auto f) { w.control->async()->Leave(c, q, r, std::move(f)); },
      [this, &w, rejoin](const grpc::Status&, const tributary::v1::LeaveResponse&, const grpc::ClientContext&) {
        {
          absl::MutexLock lock(&w.mu);
          w.token.clear();
        }
        if (rejoin) {
          timers_.After(options_.rejoin_after, [this, &w] { Join(w); });
        } else {
          w.done = true;
        }
      });
}

void LoadGen::Recover(SimWorker& w, const grpc::Status& status, const grpc::ClientContext& context,
                      std::function<void()> retry) {
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    Join(w);
    return;
  }
  const std::optional<absl::Duration> hint = RetryHint(context);
  timers_.After(hint ? *hint : kErrorBackoff, std::move(retry));
}

void LoadGen::SampleCoordinator() {
  if (std::optional<ProcSample> s = ReadProc(pid_)) {
    absl::MutexLock lock(&samples_mu_);
    samples_.emplace_back(absl::Now() - start_, *s);
  }
  if (absl::Now() < stop_at_) timers_.After(options_.sample_every, [this] { SampleCoordinator(); });
}

void LoadGen::Run() {
  start_ = absl::Now();
  window_start_ = start_ + options_.warmup;
  stop_at_ = window_start_ + options_.duration;
  stats_.Open(window_start_, stop_at_);
  std::mt19937_64 rng(options_.seed);
  for (int i = 0; i < options_.workers; ++i) {
    auto w = std::make_unique<SimWorker>();
    w->index = i;
    w->control = Coordinator::NewStub(
        grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), worker::WorkerChannelArgs()));
    w->bulk = Coordinator::NewStub(
        grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), worker::WorkerChannelArgs()));
    w->rng.seed(rng());
    workers_.push_back(std::move(w));
  }
  // Joins spread over the first half of the warmup.
  for (auto& w : workers_) {
    timers_.At(start_ + options_.warmup / 2 * (static_cast<double>(w->index) / options_.workers),
               [this, w = w.get()] { Join(*w); });
  }
  SampleCoordinator();
  auto at_window = [this] {
    if (auto text = HttpGet(options_.http, "/metrics")) applied_start_ = Metric(*text, "tributary_updates_applied_total");
    proc_start_ = ReadProc(pid_);
    self_cpu_start_ = SelfCpuSeconds();
  };
  absl::SleepFor(window_start_ - absl::Now());
  at_window();
  absl::SleepFor(stop_at_ - absl::Now());
  if (auto text = HttpGet(options_.http, "/metrics")) applied_end_ = Metric(*text, "tributary_updates_applied_total");
  proc_end_ = ReadProc(pid_);
  const double self_cpu = SelfCpuSeconds() - self_cpu_start_;
  // Calls in flight end by their deadlines; every worker then leaves.
  const absl::Time drain_until = absl::Now() + kUploadTimeout + kUnaryTimeout;
  while (absl::Now() < drain_until &&
         (in_flight_ > 0 ||
          !std::all_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->done.load(); }))) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  Report();
  std::printf("loadgen itself: %.1f CPU s in the window (%.0f %% of a core), %d threads\n", self_cpu,
              100 * self_cpu / absl::ToDoubleSeconds(options_.duration), ReadProc(getpid())->threads);
}

void LoadGen::Report() {
  const double window_s = absl::ToDoubleSeconds(options_.duration);
  std::printf("\n%d workers, window %.0f s after %.0f s warmup, compute %s (jitter %.0f %%), uploads %s, "
              "downloads %.0f %% of tasks, churn %.0f %%/min\n",
              options_.workers, window_s, absl::ToDoubleSeconds(options_.warmup),
              absl::FormatDuration(options_.compute).c_str(), 100 * options_.jitter,
              options_.uploads ? "on" : "off", 100 * options_.download_fraction, 100 * options_.churn_per_minute);
  stats_.Print(options_.duration);
  int64_t min_tasks = INT64_MAX, max_tasks = 0, min_applied = INT64_MAX, max_applied = 0, joins = 0, starved = 0;
  for (const auto& w : workers_) {
    min_tasks = std::min<int64_t>(min_tasks, w->tasks);
    max_tasks = std::max<int64_t>(max_tasks, w->tasks);
    min_applied = std::min<int64_t>(min_applied, w->applied);
    max_applied = std::max<int64_t>(max_applied, w->applied);
    joins += w->joins;
    starved += w->tasks == 0;
  }
  std::printf("tasks per worker (whole run): min %" PRId64 " max %" PRId64 ", workers with none: %" PRId64
              "; applied updates per worker: min %" PRId64 " max %" PRId64 "; joins %" PRId64
              "; leases revoked %" PRId64 "\n",
              min_tasks, max_tasks, starved, min_applied, max_applied, joins, revoked_.load());
  if (applied_start_ && applied_end_) {
    std::printf("coordinator: %.1f updates applied/s in the window\n", (*applied_end_ - *applied_start_) / window_s);
  }
  if (proc_start_ && proc_end_) {
    const double cpu = proc_end_->cpu_s - proc_start_->cpu_s;
    std::printf("coordinator pid %d: %.1f CPU s in the window (%.0f %% of a core), peak RSS %.1f MiB, "
                "%d threads\n",
                pid_, cpu, 100 * cpu / window_s, proc_end_->peak_rss_kb / 1024.0, proc_end_->threads);
  }
  absl::MutexLock lock(&samples_mu_);
  std::printf("coordinator RSS (MiB) at t s:");
  for (const auto& [t, s] : samples_) std::printf(" %.0f:%.1f", absl::ToDoubleSeconds(t), s.rss_kb / 1024.0);
  std::printf("\n");
  // RSS over the last 30 s of the window.
  const absl::Duration end = stop_at_ - start_;
  std::optional<ProcSample> first, last;
  for (const auto& [t, s] : samples_) {
    if (t >= end - absl::Seconds(30) && t <= end) {
      if (!first) first = s;
      last = s;
    }
  }
  if (first && last) {
    std::printf("coordinator RSS over the last 30 s: %.1f -> %.1f MiB (%+.1f %%)\n", first->rss_kb / 1024.0,
                last->rss_kb / 1024.0, 100.0 * (last->rss_kb - first->rss_kb) / first->rss_kb);
  }
}

}  // namespace
}  // namespace tributary::bench

int main(int argc, char** argv) {
  tributary::ParseFlags(
      argc, argv,
      "Simulated workers against a real coordinator on 127.0.0.1.\n  loadgen --target=HOST:PORT --workers=N");
  tributary::bench::Options options;
  options.target = absl::GetFlag(FLAGS_target);
  options.http = absl::GetFlag(FLAGS_http);
  options.coordinator_pid = absl::GetFlag(FLAGS_coordinator_pid);
  options.workers = std::max(1, absl::GetFlag(FLAGS_workers));
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.compute = absl::GetFlag(FLAGS_compute);
  options.jitter = std::clamp(absl::GetFlag(FLAGS_jitter), 0.0, 1.0);
  options.uploads = absl::GetFlag(FLAGS_uploads);
  options.download_fraction = absl::GetFlag(FLAGS_download_fraction);
  options.churn_per_minute = absl::GetFlag(FLAGS_churn);
  options.rejoin_after = absl::GetFlag(FLAGS_rejoin_after);
  options.payloads = std::max(1, absl::GetFlag(FLAGS_payloads));
  options.sample_every = absl::GetFlag(FLAGS_sample_every);
  options.seed = absl::GetFlag(FLAGS_seed);
  std::string cpu = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::printf("loadgen on %s (%ld cpus), %s\n", cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  tributary::bench::LoadGen loadgen(options);
  if (absl::Status s = loadgen.Prepare(); !s.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  loadgen.Run();
  return 0;
}
