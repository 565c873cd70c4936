#include "worker/client.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/wire.h"
#include "worker/timeouts.h"

namespace tributary::worker {
namespace {

using tributary::v1::Chunk;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// The same, carrying the coordinator's retry hint and a standby's leader
// (trailing metadata) as payloads that RetryHint() and LeaderHint() read.
absl::Status FromGrpc(const grpc::Status& status, const grpc::ClientContext& context) {
  absl::Status converted = FromGrpc(status);
  if (converted.ok()) return converted;
  const auto& trailers = context.GetServerTrailingMetadata();
  for (const char* key : {kRetryAfterMetadataKey, kLeaderMetadataKey}) {
    if (auto it = trailers.find(key); it != trailers.end()) {
      converted.SetPayload(key, absl::Cord(absl::string_view(it->second.data(), it->second.size())));
    }
  }
  return converted;
}


// Calls `call` again while the coordinator answers with a short retry hint
// (a rate limit hit mid-task), up to kHintedRetries times, so the limit
// costs the wait it asks for rather than the task. Longer hints go up to
// the worker's loop.
template <typename Call>
auto HonouringShortHints(const Call& call) -> decltype(call()) {
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    if (result.ok() || attempt > kHintedRetries) return result;
    std::optional<absl::Duration> hint = RetryHint(result.status());
    if (!hint || *hint > kMaxInlineHint) return result;
    absl::SleepFor(*hint);
  }
}

}  // namespace

grpc::ChannelArguments WorkerChannelArgs() {
  grpc::ChannelArguments args;
  // Each channel its own connection (gRPC would otherwise share one
  // between channels to the same address).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Reconnect promptly when the coordinator comes back; our own backoff paces retries.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  // Off by default in gRPC; see common/wire.h.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kClientKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return args;
}

CoordinatorClient::CoordinatorClient(const std::string& address,
                                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : control_channel_(grpc::CreateCustomChannel(address, credentials, WorkerChannelArgs())),
      bulk_channel_(grpc::CreateCustomChannel(address, credentials, WorkerChannelArgs())),
      control_(tributary::v1::Coordinator::NewStub(control_channel_)),
      bulk_(tributary::v1::Coordinator::NewStub(bulk_channel_)) {}

bool CoordinatorClient::WaitForConnection(absl::Duration timeout) {
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  return control_channel_->WaitForConnected(deadline) && bulk_channel_->WaitForConnected(deadline);
}

std::unique_ptr<grpc::ClientContext> CoordinatorClient::NewContext(absl::Duration timeout, Connection connection) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // kWait: while the coordinator is away, wait (up to the deadline) for it
  // to come back instead of failing at once on the channel's last
  // connection error, so a Join made just after it restarts goes through.
  // Every other call fails fast, so the worker says at once that the
  // coordinator is unreachable and paces its retries itself.
  context->set_wait_for_ready(connection == Connection::kWait);
  absl::MutexLock lock(&mu_);
  if (!session_token_.empty()) {
    context->AddMetadata(kSessionMetadataKey, absl::StrCat(kBearerPrefix, session_token_));
  }
  return context;
}

absl::StatusOr<tributary::v1::JoinResponse> CoordinatorClient::Join(
    const tributary::v1::JoinRequest& request) {
  {
    absl::MutexLock lock(&mu_);
    session_token_.clear();
  }
  tributary::v1::JoinResponse response;
  auto context = NewContext(kJoinTimeout, Connection::kWait);
  if (grpc::Status s = control_->Join(context.get(), request, &response); !s.ok()) {
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return absl::UnavailableError(absl::StrCat("no connection within ", absl::FormatDuration(kJoinTimeout)));
    }
    return FromGrpc(s, *context);
  }
  absl::MutexLock lock(&mu_);
  session_token_ = response.session_token();
  return response;
}

absl::StatusOr<tributary::v1::HeartbeatResponse> CoordinatorClient::Heartbeat(uint64_t current_task,
                                                                           absl::Span<const uint64_t> held) {
  tributary::v1::HeartbeatRequest request;
  request.set_task_id(current_task);
  request.mutable_held_task_ids()->Add(held.begin(), held.end());
  tributary::v1::HeartbeatResponse response;
  auto context = NewContext(kUnaryTimeout);
  if (grpc::Status s = control_->Heartbeat(context.get(), request, &response); !s.ok()) return FromGrpc(s, *context);
  return response;
}

absl::StatusOr<tributary::v1::GetTaskResponse> CoordinatorClient::GetTask(absl::Span<const uint64_t> keep) {
  tributary::v1::GetTaskRequest request;
  request.mutable_keep_task_ids()->Add(keep.begin(), keep.end());
  return HonouringShortHints([&]() -> absl::StatusOr<tributary::v1::GetTaskResponse> {
    tributary::v1::GetTaskResponse response;
    auto context = NewContext(kUnaryTimeout);
    if (grpc::Status s = control_->GetTask(context.get(), request, &response); !s.ok()) return FromGrpc(s, *context);
    return response;
  });
}

absl::StatusOr<std::string> CoordinatorClient::Download(const OpenStream& open, const std::string& sha256,
                                                        uint64_t bytes, Announced announced) {
  return HonouringShortHints([&] { return DownloadOnce(open, sha256, bytes, announced); });
}

absl::StatusOr<std::string> CoordinatorClient::DownloadOnce(const OpenStream& open, std::string sha256,
                                                            uint64_t bytes, Announced announced) {
  auto context = NewContext(TransferTimeout(bytes));
  std::unique_ptr<grpc::ClientReader<Chunk>> reader = open(context.get());
  std::string payload;
  // Hashed as the chunks arrive, beside the transfer rather than after it.
  Sha256Hasher hasher;
  Chunk chunk;
  absl::Status problem;
  for (bool first = true; problem.ok() && reader->Read(&chunk); first = false) {
    if (first && announced == Announced::kByStream) {
      if (chunk.total_bytes() > bytes) {
        problem = absl::DataLossError(absl::StrCat("download of ", chunk.total_bytes(), " bytes, at most ",
                                                   bytes, " expected"));
      } else {
        bytes = chunk.total_bytes();
        sha256 = chunk.sha256();
      }
    } else if (first && (chunk.total_bytes() != bytes || chunk.sha256() != sha256)) {
      problem = absl::DataLossError("download does not match the task's size and digest");
    }
    if (first) payload.reserve(bytes);
    if (!problem.ok()) break;
    if (chunk.offset() != payload.size() || payload.size() + chunk.data().size() > bytes) {
      problem = absl::DataLossError("download chunks out of order or oversized");
    } else {
      payload.append(chunk.data());
      hasher.Update(chunk.data());
    }
  }
  if (!problem.ok()) {
    context->TryCancel();
    reader->Finish();
    return problem;
  }
  if (absl::Status s = FromGrpc(reader->Finish(), *context); !s.ok()) return s;
  if (payload.size() != bytes || DigestBytes(hasher.Finish()) != sha256) {
    return absl::DataLossError("download failed its SHA-256 check");
  }
  return payload;
}

absl::StatusOr<std::string> CoordinatorClient::FetchModel(uint64_t version, const std::string& sha256,
                                                          uint64_t bytes) {
  tributary::v1::FetchModelRequest request;
  request.set_version(version);
  return Download([&](grpc::ClientContext* c) { return bulk_->FetchModel(c, request); }, sha256, bytes,
                  sha256.empty() ? Announced::kByStream : Announced::kByTask);
}

absl::StatusOr<std::string> CoordinatorClient::FetchModelDelta(uint64_t version, uint64_t from_version,
                                                               uint64_t max_bytes) {
  tributary::v1::FetchModelDeltaRequest request;
  request.set_version(version);
  request.set_from_version(from_version);
  return Download([&](grpc::ClientContext* c) { return bulk_->FetchModelDelta(c, request); }, "", max_bytes,
                  Announced::kByStream);
}

absl::StatusOr<std::string> CoordinatorClient::FetchShard(uint64_t shard_id, const std::string& sha256,
                                                          uint64_t bytes) {
  tributary::v1::FetchShardRequest request;
  request.set_shard_id(shard_id);
  return Download([&](grpc::ClientContext* c) { return control_->FetchShard(c, request); }, sha256, bytes,
                  Announced::kByTask);
}

absl::StatusOr<BlobRef> CoordinatorClient::Describe(const OpenStream& open) {
  return HonouringShortHints([&]() -> absl::StatusOr<BlobRef> {
    auto context = NewContext(kUnaryTimeout);
    std::unique_ptr<grpc::ClientReader<Chunk>> reader = open(context.get());
    Chunk chunk, extra;
    const bool got = reader->Read(&chunk);
    // A coordinator that ignores digest_only streams the payload itself.
    if (got && (!chunk.data().empty() || reader->Read(&extra))) {
      context->TryCancel();
      reader->Finish();
      return absl::DataLossError("a digest-only answer carries data");
    }
    if (absl::Status s = FromGrpc(reader->Finish(), *context); !s.ok()) return s;
    if (!got || chunk.sha256().size() != Sha256Digest().size()) {
      return absl::DataLossError("a digest-only answer without a digest");
    }
    return BlobRef{chunk.sha256(), chunk.total_bytes()};
  });
}

absl::StatusOr<BlobRef> CoordinatorClient::DescribeModel(uint64_t version) {
  tributary::v1::FetchModelRequest request;
  request.set_version(version);
  request.set_digest_only(true);
  return Describe([&](grpc::ClientContext* c) { return control_->FetchModel(c, request); });
}

absl::StatusOr<BlobRef> CoordinatorClient::DescribeModelDelta(uint64_t version, uint64_t from_version) {
  tributary::v1::FetchModelDeltaRequest request;
  request.set_version(version);
  request.set_from_version(from_version);
  request.set_digest_only(true);
  return Describe([&](grpc::ClientContext* c) { return control_->FetchModelDelta(c, request); });
}

absl::StatusOr<tributary::v1::SubmitUpdateResponse> CoordinatorClient::SubmitUpdate(
    const tributary::v1::UpdateHeader& header, const std::string& payload, absl::Duration* upload,
    const UploadProgress& progress) {
  // A retried submit is safe: the coordinator applies a task once.
  return HonouringShortHints([&] { return SubmitUpdateOnce(header, payload, upload, progress); });
}

absl::StatusOr<tributary::v1::SubmitUpdateResponse> CoordinatorClient::SubmitUpdateOnce(
    const tributary::v1::UpdateHeader& header, const std::string& payload, absl::Duration* upload,
    const UploadProgress& progress) {
  tributary::v1::SubmitUpdateResponse response;
  const absl::Time start = absl::Now();
  auto context = NewContext(TransferTimeout(payload.size()));
  auto writer = bulk_->SubmitUpdate(context.get(), &response);
  tributary::v1::SubmitUpdateChunk chunk;
  *chunk.mutable_header() = header;
  bool open = writer->Write(chunk);
  for (size_t offset = 0; open && offset < payload.size(); offset += kMaxChunkBytes) {
    chunk.set_data(payload.substr(offset, kMaxChunkBytes));
    open = writer->Write(chunk);
    if (open && progress) progress(static_cast<int64_t>(offset + chunk.data().size()));
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (upload != nullptr) {
    const absl::Duration call = absl::Now() - start;
    const absl::Duration apply = absl::Seconds(std::clamp(response.apply_s(), 0.0, absl::ToDoubleSeconds(call)));
    *upload = call - apply;
  }
  if (!status.ok()) return FromGrpc(status, *context);
  return response;
}

absl::Status CoordinatorClient::Leave() {
  tributary::v1::LeaveResponse response;
  auto context = NewContext(kLeaveTimeout);
  return FromGrpc(control_->Leave(context.get(), {}, &response));
}

}  // namespace tributary::worker
