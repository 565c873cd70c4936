// The gRPC shell over a real socket on 127.0.0.1: every malformed request
// gets a clear status, is counted against its worker, and leaves the model
// untouched; well-formed ones go through.
#include "coordinator/service.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/clock.h"
#include "common/codec/dense.h"
#include "common/codec/model_delta.h"
#include "common/sha256.h"
#include "common/wire.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::SubmitUpdateChunk;

constexpr int kNumParams = 4 * 6 + 4 + 3 * 4 + 3;
constexpr int kBanLimit = 5;

tributary::v1::JobSpec ServiceJob() {
  tributary::v1::JobSpec job = TinyJob();
  job.mutable_lease()->set_max_invalid_requests(kBanLimit);
  job.mutable_codec()->set_model_deltas(true);
  return job;
}

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest()
      : dataset_(TinyDataset(12, 4)),
        run_(ServiceJob(), *dataset_, std::vector<float>(kNumParams, 0.0f), clock_),
        service_(run_, *dataset_, codec_, JoinTokens::Parse("secret", "test").value(), clock_) {
    absl::StatusOr<RunningServer> server =
        StartGrpcServer("127.0.0.1:0", grpc::InsecureServerCredentials(), &service_);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = tributary::v1::Coordinator::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_.port), grpc::InsecureChannelCredentials()));
  }
  ~ServiceTest() override { server_.server->Shutdown(); }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!session_.empty()) context->AddMetadata(kSessionMetadataKey, kBearerPrefix + session_);
    return context;
  }

  grpc::Status Join(const std::string& token) {
    tributary::v1::JoinRequest request;
    request.set_join_token(token);
    request.set_name("tester");
    tributary::v1::JoinResponse response;
    grpc::Status s = stub_->Join(Context().get(), request, &response);
    if (s.ok()) session_ = response.session_token();
    return s;
  }

  tributary::v1::Task GetTask() {
    tributary::v1::GetTaskResponse response;
    EXPECT_TRUE(stub_->GetTask(Context().get(), {}, &response).ok());
    return response.task();
  }

  // Streams a header and then `payload` in one data chunk.
  grpc::Status Submit(const tributary::v1::UpdateHeader& header, const std::string& payload,
                      tributary::v1::SubmitUpdateResponse* response) {
    auto context = Context();
    auto writer = stub_->SubmitUpdate(context.get(), response);
    SubmitUpdateChunk chunk;
    *chunk.mutable_header() = header;
    writer->Write(chunk);
    if (!payload.empty()) {
      chunk.set_data(payload);
      writer->Write(chunk);
    }
    writer->WritesDone();
    return writer->Finish();
  }


  int64_t InvalidRequests() { return run_.Status().workers.at(0).invalid_requests; }

  FakeClock clock_;
  std::unique_ptr<Dataset> dataset_;
  DenseCodec codec_{ValueCoding{}, kNumParams};
  TrainingRun run_;
  CoordinatorService service_;
  RunningServer server_;
  std::unique_ptr<tributary::v1::Coordinator::Stub> stub_;
  std::string session_;
};

TEST_F(ServiceTest, JoinNeedsTheTokenAndCallsNeedASession) {
  EXPECT_EQ(Join("wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  tributary::v1::GetTaskResponse response;
  EXPECT_EQ(stub_->GetTask(Context().get(), {}, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(Join("secret").ok());
  EXPECT_TRUE(stub_->GetTask(Context().get(), {}, &response).ok());
  EXPECT_TRUE(response.has_task());
}

TEST_F(ServiceTest, DownloadsArriveWithTheirDigest) {
  ASSERT_TRUE(Join("secret").ok());
  const tributary::v1::Task task = GetTask();
  tributary::v1::FetchShardRequest request;
  request.set_shard_id(task.shard_id());
  auto context = Context();
  auto reader = stub_->FetchShard(context.get(), request);
  std::string payload;
  tributary::v1::Chunk chunk;
  while (reader->Read(&chunk)) payload += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(DigestBytes(Sha256(payload)), task.shard_sha256());

  request.set_shard_id(99);
  auto bad_context = Context();
  auto bad = stub_->FetchShard(bad_context.get(), request);
  while (bad->Read(&chunk)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(InvalidRequests(), 1);
}

// Drains a download stream: its announced digest, its bytes, its status.
struct Download {
  std::string sha256, payload;
  grpc::Status status;
};
template <typename Reader>
Download Drain(Reader& reader) {
  Download d;
  tributary::v1::Chunk chunk;
  while (reader->Read(&chunk)) {
    if (d.payload.empty() && chunk.offset() == 0) d.sha256 = chunk.sha256();
    d.payload += chunk.data();
  }
  d.status = reader->Finish();
  return d;
}

TEST_F(ServiceTest, ModelDeltasComeFromVersionsStillHeld) {
  ASSERT_TRUE(Join("secret").ok());
  auto fetch = [&](uint64_t version) {
    tributary::v1::FetchModelRequest request;
    request.set_version(version);
    auto context = Context();
    auto reader = stub_->FetchModel(context.get(), request);
    return Drain(reader);
  };
  auto fetch_delta = [&](uint64_t version, uint64_t from) {
    tributary::v1::FetchModelDeltaRequest request;
    request.set_version(version);
    request.set_from_version(from);
    auto context = Context();
    auto reader = stub_->FetchModelDelta(context.get(), request);
    return Drain(reader);
  };
  const tributary::v1::Task task = GetTask();  // Publishes version 0.
  const Download v0 = fetch(0);
  ASSERT_TRUE(v0.status.ok()) << v0.status.error_message();
  std::vector<float> update(kNumParams);
  for (int i = 0; i < kNumParams; ++i) update[i] = 0.01f * (i % 7 - 3);
  const std::string good = codec_.Encode(update);
  tributary::v1::SubmitUpdateResponse response;
  ASSERT_TRUE(Submit(HeaderFor(task, good.size()), good, &response).ok());
  ASSERT_EQ(response.model_version(), 1u);
  // Served at once, before any task names it: a worker learns of it from
  // the reply and fetches it.
  const Download v1 = fetch(1);
  ASSERT_TRUE(v1.status.ok()) << v1.status.error_message();

  const Download delta = fetch_delta(1, 0);
  ASSERT_TRUE(delta.status.ok()) << delta.status.error_message();
  EXPECT_EQ(delta.sha256, DigestBytes(Sha256(delta.payload)));
  EXPECT_EQ(delta.payload.size(), ModelDeltaBytes(kNumParams));
  EXPECT_LT(delta.payload.size(), v1.payload.size() / 2);
  const Download again = fetch_delta(1, 0);
  EXPECT_EQ(again.payload, delta.payload);
  EXPECT_EQ(again.sha256, delta.sha256);
  auto floats = [](const std::string& bytes) {
    return absl::MakeConstSpan(reinterpret_cast<const float*>(bytes.data()), bytes.size() / sizeof(float));
  };
  std::vector<float> rebuilt(kNumParams);
  ASSERT_TRUE(ApplyModelDelta(delta.payload, floats(v0.payload), absl::MakeSpan(rebuilt)).ok());
  float largest_step = 0;
  for (int i = 0; i < kNumParams; ++i) largest_step = std::max(largest_step, std::abs(floats(v1.payload)[i] - floats(v0.payload)[i]));
  ASSERT_GT(largest_step, 0.0f);
  for (int i = 0; i < kNumParams; ++i) EXPECT_NEAR(rebuilt[i], floats(v1.payload)[i], largest_step / 254 * 1.001f);

  EXPECT_EQ(fetch_delta(7, 0).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(fetch_delta(1, 7).status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// A digest-only answer is one chunk: size and digest, no data; what it
// names is then in the blob index, for GET /blobs/.
TEST_F(ServiceTest, DigestOnlyAnswersNameBlobsTheIndexHolds) {
  ASSERT_TRUE(Join("secret").ok());
  const tributary::v1::Task task = GetTask();
  auto digest = [](const std::string& wire) {
    Sha256Digest d{};
    std::copy(wire.begin(), wire.end(), d.begin());
    return d;
  };
  EXPECT_TRUE(service_.blobs().Has(digest(task.model_sha256()))) << "the task's model, as the task is handed out";
  EXPECT_TRUE(service_.blobs().Has(digest(task.shard_sha256())));
  auto chunks = [](auto& reader) {
    std::vector<tributary::v1::Chunk> all;
    tributary::v1::Chunk chunk;
    while (reader->Read(&chunk)) all.push_back(chunk);
    EXPECT_TRUE(reader->Finish().ok());
    return all;
  };
  tributary::v1::FetchModelRequest model;
  model.set_version(0);
  model.set_digest_only(true);
  auto model_context = Context();
  auto model_reader = stub_->FetchModel(model_context.get(), model);
  const std::vector<tributary::v1::Chunk> model_chunks = chunks(model_reader);
  ASSERT_EQ(model_chunks.size(), 1u);
  EXPECT_EQ(model_chunks[0].sha256(), task.model_sha256());
  EXPECT_EQ(model_chunks[0].total_bytes(), task.model_bytes());
  EXPECT_TRUE(model_chunks[0].data().empty());

  std::vector<float> update(kNumParams, 0.01f);
  const std::string good = codec_.Encode(update);
  tributary::v1::SubmitUpdateResponse response;
  ASSERT_TRUE(Submit(HeaderFor(task, good.size()), good, &response).ok());
  tributary::v1::FetchModelDeltaRequest delta;
  delta.set_version(1);
  delta.set_from_version(0);
  delta.set_digest_only(true);
  auto delta_context = Context();
  auto delta_reader = stub_->FetchModelDelta(delta_context.get(), delta);
  const std::vector<tributary::v1::Chunk> delta_chunks = chunks(delta_reader);
  ASSERT_EQ(delta_chunks.size(), 1u);
  EXPECT_TRUE(delta_chunks[0].data().empty());
  const std::optional<Blob> blob = service_.blobs().Find(digest(delta_chunks[0].sha256()));
  ASSERT_TRUE(blob.has_value()) << "the delta is encoded and held";
  EXPECT_EQ(blob->kind, BlobKind::kDelta);
  EXPECT_EQ(blob->bytes.size(), delta_chunks[0].total_bytes());
  EXPECT_EQ(DigestBytes(Sha256(blob->bytes)), delta_chunks[0].sha256());
}

TEST_F(ServiceTest, MalformedUploadsAreRefusedAndCounted) {
  ASSERT_TRUE(Join("secret").ok());
  const tributary::v1::Task task = GetTask();
  const std::string good = codec_.Encode(std::vector<float>(kNumParams, 0.01f));
  tributary::v1::SubmitUpdateResponse response;

  tributary::v1::UpdateHeader wrong_codec = HeaderFor(task, good.size());
  wrong_codec.set_codec("fp16");
  EXPECT_EQ(Submit(wrong_codec, good, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_EQ(Submit(HeaderFor(task, good.size() + 4), good + "xxxx", &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  EXPECT_EQ(Submit(HeaderFor(task, good.size()), good.substr(0, 100), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "truncated";

  std::vector<float> poisoned(kNumParams, 0.01f);
  poisoned[3] = std::numeric_limits<float>::quiet_NaN();
  const grpc::Status nan = Submit(HeaderFor(task, good.size()), codec_.Encode(poisoned), &response);
  EXPECT_EQ(nan.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(nan.error_message().find("NaN"), std::string::npos) << nan.error_message();

  EXPECT_EQ(InvalidRequests(), 4);
  EXPECT_EQ(run_.Status().model_version, 0u) << "nothing reached the model";

  ASSERT_TRUE(Submit(HeaderFor(task, good.size()), good, &response).ok());
  EXPECT_TRUE(response.applied());
  EXPECT_EQ(response.model_version(), 1u);
  ASSERT_TRUE(Submit(HeaderFor(task, good.size()), good, &response).ok());
  EXPECT_FALSE(response.applied()) << "a retried submit is applied once";
}

// A worker may keep kMaxKeptTasks leases across GetTask and name
// kMaxHeldTasks in a heartbeat; more is refused and counted.
TEST_F(ServiceTest, TooManyKeptOrHeldTasksAreRefusedAndCounted) {
  ASSERT_TRUE(Join("secret").ok());
  const tributary::v1::Task first = GetTask();
  tributary::v1::GetTaskRequest keep;
  keep.add_keep_task_ids(first.task_id());
  tributary::v1::GetTaskResponse second;
  ASSERT_TRUE(stub_->GetTask(Context().get(), keep, &second).ok());
  EXPECT_TRUE(second.has_task());
  EXPECT_EQ(run_.Status().shards.leased, 2);

  tributary::v1::HeartbeatRequest heartbeat;
  heartbeat.set_task_id(second.task().task_id());
  heartbeat.add_held_task_ids(first.task_id());
  heartbeat.add_held_task_ids(second.task().task_id());
  heartbeat.add_held_task_ids(777);
  tributary::v1::HeartbeatResponse revoked;
  ASSERT_TRUE(stub_->Heartbeat(Context().get(), heartbeat, &revoked).ok());
  EXPECT_EQ(std::vector<uint64_t>(revoked.revoked_task_ids().begin(), revoked.revoked_task_ids().end()),
            std::vector<uint64_t>{777});
  EXPECT_EQ(InvalidRequests(), 0);

  for (int i = 0; i < kMaxKeptTasks; ++i) keep.add_keep_task_ids(100 + i);
  tributary::v1::GetTaskResponse refused;
  EXPECT_EQ(stub_->GetTask(Context().get(), keep, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (int i = 0; i < kMaxHeldTasks; ++i) heartbeat.add_held_task_ids(200 + i);
  EXPECT_EQ(stub_->Heartbeat(Context().get(), heartbeat, &revoked).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(InvalidRequests(), 2);
  EXPECT_EQ(run_.Status().shards.leased, 2) << "a refused GetTask releases nothing";
}

TEST_F(ServiceTest, RepeatOffendersAreBanned) {
  ASSERT_TRUE(Join("secret").ok());
  const tributary::v1::Task task = GetTask();
  tributary::v1::SubmitUpdateResponse response;
  tributary::v1::UpdateHeader header = HeaderFor(task, 8);
  header.set_codec("bogus");
  for (int i = 1; i < kBanLimit; ++i) {
    EXPECT_EQ(Submit(header, "12345678", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(Submit(header, "12345678", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  tributary::v1::GetTaskResponse next;
  EXPECT_EQ(stub_->GetTask(Context().get(), {}, &next).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(run_.Status().shards.leased, 0);
}

}  // namespace
}  // namespace tributary::coordinator
