#include "tests/e2e/hostile_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "common/wire.h"

namespace tributary::testing {

using tributary::v1::Chunk;
using tributary::v1::SubmitUpdateChunk;

HostileClient::HostileClient(int port, const grpc::ChannelArguments& args)
    : stub_(tributary::v1::Coordinator::NewStub(
          grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args))) {}

grpc::Status HostileClient::Join(const std::string& name, const std::string& join_token) {
  tributary::v1::JoinRequest request;
  request.set_join_token(join_token);
  request.set_name(name);
  request.set_device("cpu");
  request.set_threads(1);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  tributary::v1::JoinResponse response;
  grpc::Status status = stub_->Join(&context, request, &response);
  if (status.ok()) {
    joined_ = std::move(response);
    session_ = joined_.session_token();
  }
  return status;
}

std::unique_ptr<grpc::ClientContext> HostileClient::Context(absl::Duration deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!session_.empty()) context->AddMetadata(kSessionMetadataKey, kBearerPrefix + session_);
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

grpc::Status HostileClient::Heartbeat(uint64_t task_id) {
  tributary::v1::HeartbeatRequest request;
  request.set_task_id(task_id);
  tributary::v1::HeartbeatResponse response;
  return stub_->Heartbeat(Context().get(), request, &response);
}

grpc::Status HostileClient::GetTask(tributary::v1::GetTaskResponse* response) {
  return stub_->GetTask(Context().get(), {}, response);
}

absl::StatusOr<tributary::v1::Task> HostileClient::LeaseTask() {
  tributary::v1::GetTaskResponse response;
  const grpc::Status status = GetTask(&response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("GetTask: ", status.error_message()));
  }
  if (!response.has_task()) return absl::UnavailableError("GetTask: no task to hand out");
  return response.task();
}

grpc::Status HostileClient::Leave() {
  tributary::v1::LeaveResponse response;
  return stub_->Leave(Context().get(), {}, &response);
}

absl::StatusOr<std::string> HostileClient::FetchModel(uint64_t version) {
  tributary::v1::FetchModelRequest request;
  request.set_version(version);
  std::unique_ptr<grpc::ClientContext> context = Context();
  std::unique_ptr<grpc::ClientReader<Chunk>> reader = stub_->FetchModel(context.get(), request);
  std::string bytes;
  std::string sha256;
  Chunk chunk;
  while (reader->Read(&chunk)) {
    if (bytes.empty()) sha256 = chunk.sha256();
    bytes += chunk.data();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("FetchModel: ", status.error_message()));
  if (DigestBytes(Sha256(bytes)) != sha256) {
    return absl::DataLossError(absl::StrCat("FetchModel: version ", version, " does not match its SHA-256"));
  }
  return bytes;
}

grpc::Status HostileClient::Upload(const tributary::v1::UpdateHeader& header, const std::vector<std::string>& pieces,
                                   bool end_stream, absl::Duration deadline) {
  std::unique_ptr<grpc::ClientContext> context = Context(deadline);
  tributary::v1::SubmitUpdateResponse response;
  std::unique_ptr<grpc::ClientWriter<SubmitUpdateChunk>> writer = stub_->SubmitUpdate(context.get(), &response);
  SubmitUpdateChunk chunk;
  *chunk.mutable_header() = header;
  // A refused upload ends on the coordinator's side; writes fail from then on.
  bool open = writer->Write(chunk);
  for (size_t i = 0; open && i < pieces.size(); ++i) {
    chunk.set_data(pieces[i]);
    open = writer->Write(chunk);
  }
  if (open && end_stream) writer->WritesDone();
  return writer->Finish();
}

tributary::v1::UpdateHeader HeaderFor(const tributary::v1::Task& task, const std::string& codec,
                                      uint64_t encoded_bytes) {
  tributary::v1::UpdateHeader header;
  header.set_task_id(task.task_id());
  header.set_base_version(task.base_version());
  header.set_codec(codec);
  header.set_encoded_bytes(encoded_bytes);
  header.set_loss(1.0f);
  header.set_examples(task.shard_examples());
  header.set_epoch(task.epoch());
  header.set_shard_id(static_cast<uint32_t>(task.shard_id()));
  return header;
}

std::string TrailingMetadata(const grpc::ClientContext& context, const std::string& key) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(key);
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

namespace {

constexpr intptr_t kStarted = 0;
constexpr intptr_t kFinished = 1;

void* Tag(int call, intptr_t what) { return reinterpret_cast<void*>(intptr_t{call} * 2 + what); }

}  // namespace

UnreadStreams::UnreadStreams(HostileClient& client, int count, uint64_t model_version) : calls_(count) {
  for (int i = 0; i < count; ++i) {
    Call& call = calls_[i];
    call.context = client.Context(absl::Seconds(60));
    if (i % 2 == 0) {
      tributary::v1::FetchModelRequest request;
      request.set_version(model_version);
      call.reader = client.stub().PrepareAsyncFetchModel(call.context.get(), request, &queue_);
    } else {
      tributary::v1::FetchShardRequest request;
      request.set_shard_id(0);
      call.reader = client.stub().PrepareAsyncFetchShard(call.context.get(), request, &queue_);
    }
    call.reader->StartCall(Tag(i, kStarted));
    call.reader->Finish(&call.status, Tag(i, kFinished));
  }
}

UnreadStreams::~UnreadStreams() {
  for (Call& call : calls_) call.context->TryCancel();
  Drain(absl::Now() + kCallDeadline);
  queue_.Shutdown();
  void* tag;
  bool ok;
  while (queue_.Next(&tag, &ok)) {
  }
}

int UnreadStreams::RefusedWithin(absl::Duration timeout) {
  Drain(absl::Now() + timeout);
  int refused = 0, open = 0, other = 0;
  for (const Call& call : calls_) {
    if (!call.finished) {
      ++open;
    } else if (call.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
    } else {
      ++other;
    }
  }
  std::printf("%zu unread download streams: %d refused, %d held open, %d ended otherwise\n", calls_.size(), refused,
              open, other);
  return refused;
}

void UnreadStreams::Drain(absl::Time deadline) {
  auto all_finished = [&] {
    for (const Call& call : calls_) {
      if (!call.finished) return false;
    }
    return true;
  };
  while (!all_finished()) {
    void* tag;
    bool ok;
    if (queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline)) != grpc::CompletionQueue::GOT_EVENT) return;
    const intptr_t id = reinterpret_cast<intptr_t>(tag);
    if (id % 2 == kFinished) calls_[id / 2].finished = true;
  }
}

int SendRaw(int port, absl::string_view bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

bool ClosedByPeer(int fd, absl::Time deadline) {
  char buffer[4096];
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())) + 1;
    if (poll(&p, 1, wait_ms) <= 0) continue;
    if (recv(fd, buffer, sizeof(buffer), 0) <= 0) return true;
  }
  return false;
}

}  // namespace tributary::testing
