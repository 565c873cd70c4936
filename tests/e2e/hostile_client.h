// The attacker's tools for the hostile-client test: a hand-driven client of
// the coordinator's gRPC API that speaks the wire protocol the way a worker
// would and lets the test break any part of it (tokens, headers, payloads,
// stream shapes), download streams left unread, and raw TCP connections.
// Every call has a deadline and every wait a bound, so a coordinator that
// never answers fails the test instead of hanging it.
#ifndef TRIBUTARY_TESTS_E2E_HOSTILE_CLIENT_H_
#define TRIBUTARY_TESTS_E2E_HOSTILE_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tributary/v1/coordinator.grpc.pb.h"

namespace tributary::testing {

// What a call that waits for an answer may take, at most.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(20);

// One client connection and (after Join) one session. Not thread-safe.
class HostileClient {
 public:
  // Dials 127.0.0.1:port with its own channel; `args` are extra channel
  // arguments (e.g. a small flow-control window).
  explicit HostileClient(int port, const grpc::ChannelArguments& args = {});

  tributary::v1::Coordinator::Stub& stub() { return *stub_; }

  // Joins with `join_token`; on success keeps the session token and the
  // job's model and codec from the response.
  grpc::Status Join(const std::string& name, const std::string& join_token);
  const tributary::v1::JoinResponse& joined() const { return joined_; }

  // The bearer every later call carries; a test may replace it with a
  // forged one, or clear it to send none.
  const std::string& session() const { return session_; }
  void set_session(std::string session) { session_ = std::move(session); }

  // A context with the session's metadata (when there is a session) and a
  // deadline `deadline` from now.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = kCallDeadline) const;

  grpc::Status Heartbeat(uint64_t task_id = 0);
  grpc::Status GetTask(tributary::v1::GetTaskResponse* response);
  // Leases a task; fails the status when the coordinator had none to give.
  absl::StatusOr<tributary::v1::Task> LeaseTask();
  grpc::Status Leave();

  // The whole model of `version`, checked against the SHA-256 its first
  // chunk carries.
  absl::StatusOr<std::string> FetchModel(uint64_t version);

  // An upload: the header, then each of `pieces` as one data message, then
  // the end of the stream (unless `end_stream` is false: then the status
  // is awaited with the stream still open, as a stuck client leaves it).
  grpc::Status Upload(const tributary::v1::UpdateHeader& header, const std::vector<std::string>& pieces,
                      bool end_stream = true, absl::Duration deadline = kCallDeadline);

 private:
  std::unique_ptr<tributary::v1::Coordinator::Stub> stub_;
  std::string session_;
  tributary::v1::JoinResponse joined_;
};

// The header an honest worker would send for `task` with a payload of
// `encoded_bytes` in `codec`.
tributary::v1::UpdateHeader HeaderFor(const tributary::v1::Task& task, const std::string& codec,
                                      uint64_t encoded_bytes);

// The value of trailing metadata `key` of a finished call, or "".
std::string TrailingMetadata(const grpc::ClientContext& context, const std::string& key);

// Download streams opened from one session and never read: half
// FetchModel(`model_version`), half FetchShard. Give the client's channel
// a small flow-control window, or the coordinator finishes a stream
// without its being read. Cancels whatever is still open on destruction.
class UnreadStreams {
 public:
  UnreadStreams(HostileClient& client, int count, uint64_t model_version);
  ~UnreadStreams();

  // Waits up to `timeout` for the calls the coordinator ends by itself;
  // returns how many it refused with RESOURCE_EXHAUSTED.
  int RefusedWithin(absl::Duration timeout);

 private:
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientAsyncReader<tributary::v1::Chunk>> reader;
    grpc::Status status;
    bool finished = false;
  };

  // Takes completions until `deadline` or until every call is finished.
  void Drain(absl::Time deadline);

  grpc::CompletionQueue queue_;
  std::vector<Call> calls_;  // Destroyed before queue_, after it is drained.
};

// A raw TCP connection to 127.0.0.1:port that has sent `bytes`; -1 when it
// could not connect or send. The caller closes it.
int SendRaw(int port, absl::string_view bytes);

// Whether the peer closed `fd` (end of stream or reset) before `deadline`;
// what it sends meanwhile (SETTINGS, GOAWAY) is read and dropped.
bool ClosedByPeer(int fd, absl::Time deadline);

}  // namespace tributary::testing

#endif  // TRIBUTARY_TESTS_E2E_HOSTILE_CLIENT_H_
