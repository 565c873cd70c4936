// The coordinator under attack (SPEC §8): a real coordinator and one honest
// worker as processes on 127.0.0.1, and attackers in this process speaking
// gRPC by hand (tests/e2e/hostile_client.h). Each test is one attack and the
// gRPC status it must get. Around them, the suite checks what every attack
// must leave alone (tests/e2e/hostile_target.h):
//   - the model: attacks whose refusal is synchronous run with the honest
//     worker paused (SIGSTOP), between a record of the model's version and
//     SHA-256 and a check that both are unchanged;
//   - the honest worker: it keeps finishing tasks during the attacks that
//     hold the coordinator's resources (stalled uploads, the flood, unread
//     streams), and is never banned;
//   - the coordinator's memory: its RSS stays within a bound of where it
//     started;
//   - the counters: /api/status counts each refusal by reason.
// Every attacker joins under its own identity in the join-token file, so a
// ban of one never touches the honest worker or another test.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/codec/bytes.h"
#include "common/wire.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/hostile_client.h"
#include "tests/e2e/hostile_target.h"

namespace tributary::testing {
namespace {

using nlohmann::json;
using tributary::v1::Task;
using tributary::v1::UpdateHeader;

// Leases short enough to let one expire in a test, heartbeats long enough
// that a worker paused for a test is not declared lost. Streams are cut
// limits.stream_grace_s (plus the payload's bytes at 64 KiB/s) after they
// start. Every attacker joins from 127.0.0.1, more often than the default
// limits.joins_per_minute_per_ip allows one address. Shards of 100
// examples (78.5 KB) and the model (25450 floats, 102 KB) are each larger
// than the small flow-control window of the stream attack, so a stream
// left unread stays open.
constexpr char kMlpJob[] = R"(
  name: "hostile-mlp"
  model { mlp { hidden: 32 } }
  data { fashion_mnist { max_train_examples: 10000 } shard_examples: 100 }
  eval { interval_versions: 1000 max_examples: 100 }
  optimizer { lr: 0.05 }
  budget { epochs: 100 }
  lease { lease_timeout_s: 1.5 heartbeat_interval_s: 0.5 heartbeat_timeout_s: 10 max_invalid_requests: 10 }
  limits { stream_grace_s: 2 max_streams_per_worker: 8 ban_duration_s: 600 joins_per_minute_per_ip: 600 }
)";
constexpr char kTopkJob[] = R"(
  name: "hostile-topk"
  model { mlp { hidden: 32 } }
  data { fashion_mnist { max_train_examples: 1000 } shard_examples: 100 }
  eval { interval_versions: 1000 max_examples: 100 }
  codec { name: "topk" topk_count: 64 }
  lease { lease_timeout_s: 1.5 heartbeat_interval_s: 0.5 heartbeat_timeout_s: 10 max_invalid_requests: 10 }
  limits { stream_grace_s: 2 ban_duration_s: 600 joins_per_minute_per_ip: 600 }
)";
constexpr absl::Duration kLeaseTimeout = absl::Milliseconds(1500);
constexpr int kMaxInvalidRequests = 10;
constexpr int kMaxStreamsPerWorker = 8;
constexpr absl::Duration kStreamGrace = absl::Seconds(2);
// limits.min_transfer_bytes_per_s, left at its default.
constexpr double kMinTransferBytesPerSecond = 64 * 1024;
constexpr int64_t kTopkCount = 64;

// Where /api/status counts each refusal: {object, reason}. Requests refused
// before they reach the run are in refused_by_reason; updates the ledger or
// the aggregator refused are in rejected_by_reason. The one place to adjust
// when the names move.
struct Counter {
  const char* object;
  const char* reason;
};
constexpr Counter kRefusedAuth{"refused_by_reason", "auth"};
constexpr Counter kRefusedRate{"refused_by_reason", "rate"};
constexpr Counter kRefusedStreams{"refused_by_reason", "streams"};
constexpr Counter kRefusedTooLarge{"refused_by_reason", "too_large"};
constexpr Counter kRefusedDeadline{"refused_by_reason", "deadline"};
constexpr Counter kRefusedBanned{"refused_by_reason", "banned"};
constexpr Counter kRefusedInvalid{"refused_by_reason", "invalid"};
constexpr Counter kRejectedLease{"rejected_by_reason", "lease"};
constexpr Counter kRejectedInvalid{"rejected_by_reason", "invalid"};
// A malformed upload may be counted as a refused request or as a rejected
// update; either one growing is enough.
const std::vector<Counter> kInvalid = {kRefusedInvalid, kRejectedInvalid};

// How /api/status names the identity of a token named NAME in bans[]:
// NAME itself, or "token:NAME" (coordinator/identity.h).
bool IsTokenIdentity(const std::string& identity, const std::string& name) {
  return identity == name || identity == "token:" + name;
}

// One identity per attack (AttackTarget adds "honest" and "observer").
const std::vector<std::string> kIdentities = {
    "atk-flipped", "atk-replay",   "victim",         "atk-steal",      "atk-expired",    "atk-notask",
    "atk-huge",    "atk-overflow", "atk-tiny",       "atk-stall",      "atk-stall-none", "atk-big",
    "atk-length",  "atk-nan",      "atk-codec",      "atk-flood",      "atk-leave",      "atk-streams",
    "atk-ban",     "atk-raw",      "atk-topk-range", "atk-topk-order", "atk-topk-count"};

int64_t CounterValue(const json& status, const Counter& counter) {
  const json& object = status.value(counter.object, json::object());
  return object.is_object() ? object.value(counter.reason, int64_t{0}) : 0;
}

// At least one of `counters` grew from `before` to `after`.
void ExpectCounted(const json& before, const json& after, const std::vector<Counter>& counters) {
  std::string seen;
  for (const Counter& counter : counters) {
    if (CounterValue(after, counter) > CounterValue(before, counter)) return;
    absl::StrAppend(&seen, counter.object, ".", counter.reason, " ", CounterValue(before, counter), " -> ",
                    CounterValue(after, counter), "; ");
  }
  ADD_FAILURE() << "no refusal counted: " << seen << "refused_by_reason "
                << after.value("refused_by_reason", json()).dump() << ", rejected_by_reason "
                << after.value("rejected_by_reason", json()).dump();
}

// The MLP job with the honest worker training through every attack.
class HostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { target_ = std::make_unique<AttackTarget>("hostile", kMlpJob, kIdentities, true); }
  static void TearDownTestSuite() { target_.reset(); }
  void SetUp() override { ASSERT_TRUE(target_->ready()) << "the coordinator under attack did not come up"; }
  void TearDown() override {
    if (!target_->ready()) return;
    target_->Thaw();
    target_->ExpectBoundedAndUnharmed();
  }

  static AttackTarget& target() { return *target_; }

 private:
  static inline std::unique_ptr<AttackTarget> target_;
};

TEST_F(HostileTest, NoSessionTokenIsUnauthenticated) {
  const ModelState model = target().Freeze();
  const json before = target().Status();
  HostileClient anonymous(target().port());
  tributary::v1::GetTaskResponse task;
  EXPECT_EQ(anonymous.GetTask(&task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Task made_up;
  made_up.set_task_id(1);
  EXPECT_EQ(anonymous.Upload(HeaderFor(made_up, target().codec_name(), 4), {"abcd"}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ExpectCounted(before, target().Status(), {kRefusedAuth});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, WrongJoinTokenIsUnauthenticated) {
  const json before = target().Status();
  HostileClient stranger(target().port());
  EXPECT_EQ(stranger.Join("atk-stranger", "tok-nobody-0000000000000000").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ExpectCounted(before, target().Status(), {kRefusedAuth});
}

TEST_F(HostileTest, ForgedSessionTokenIsUnauthenticated) {
  const ModelState model = target().Freeze();
  const json before = target().Status();
  HostileClient forger(target().port());
  forger.set_session(std::string(64, 'a'));
  tributary::v1::GetTaskResponse task;
  EXPECT_EQ(forger.GetTask(&task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCounted(before, target().Status(), {kRefusedAuth});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, SessionTokenWithOneByteFlippedIsUnauthenticated) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-flipped");
  ASSERT_NE(attacker, nullptr);
  const json before = target().Status();
  const std::string session = attacker->session();
  std::string flipped = session;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  attacker->set_session(flipped);
  tributary::v1::GetTaskResponse task;
  EXPECT_EQ(attacker->GetTask(&task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCounted(before, target().Status(), {kRefusedAuth});
  attacker->set_session(session);
  EXPECT_TRUE(attacker->Heartbeat().ok()) << "the real session still works: the flip was refused";
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, SessionTokenReplayedAfterLeaveIsUnauthenticated) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-replay");
  ASSERT_NE(attacker, nullptr);
  ASSERT_TRUE(attacker->Leave().ok());
  const json before = target().Status();
  tributary::v1::GetTaskResponse task;
  EXPECT_EQ(attacker->GetTask(&task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ExpectCounted(before, target().Status(), {kRefusedAuth});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, SubmitForAnotherWorkersTaskIsPermissionDenied) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> victim = target().Attacker("victim");
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-steal");
  ASSERT_NE(victim, nullptr);
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = victim->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  const std::string payload = target().ValidPayload();
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), {payload}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ExpectCounted(before, target().Status(), {kRejectedLease});
  target().ExpectUntouched(model);
  EXPECT_TRUE(victim->Leave().ok());
}

TEST_F(HostileTest, SubmitForAnExpiredLeaseIsFailedPrecondition) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-expired");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  // No heartbeat renews the lease meanwhile.
  absl::SleepFor(kLeaseTimeout + absl::Milliseconds(500));
  const json before = target().Status();
  const std::string payload = target().ValidPayload();
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), {payload}).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ExpectCounted(before, target().Status(), {kRejectedLease});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, SubmitForATaskThatNeverExistedIsNotFound) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-notask");
  ASSERT_NE(attacker, nullptr);
  Task made_up;
  made_up.set_task_id(uint64_t{1} << 60);
  made_up.set_shard_examples(100);
  const json before = target().Status();
  const std::string payload = target().ValidPayload();
  EXPECT_EQ(attacker->Upload(HeaderFor(made_up, target().codec_name(), payload.size()), {payload}).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ExpectCounted(before, target().Status(), {kRejectedLease});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, HeaderClaimingAHugePayloadIsRefusedBeforeAnyPayload) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-huge");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  // The header alone, the stream left open: the answer must not wait for payload.
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), uint64_t{1} << 40), {}, false).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectCounted(before, target().Status(), {kRefusedTooLarge});
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, MorePayloadThanTheHeaderClaimedIsInvalidArgument) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-overflow");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  const std::string payload = target().ValidPayload();
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), {payload, "extra"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, TooManyTinyChunksIsResourceExhausted) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-tiny");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const std::string payload = target().ValidPayload();
  std::vector<std::string> bytes;
  for (size_t i = 0; i < 1000; ++i) bytes.push_back(payload.substr(i, 1));
  const json before = target().Status();
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), bytes).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectCounted(before, target().Status(), {kRefusedTooLarge});
  target().ExpectUntouched(model);
}

// The header, then nothing, with a client deadline far beyond the
// coordinator's: only the coordinator can end the upload in time.
void ExpectStalledUploadCut(HostileClient& attacker, const UpdateHeader& header) {
  const absl::Duration server_limit = kStreamGrace + absl::Seconds(header.encoded_bytes() / kMinTransferBytesPerSecond);
  const absl::Time start = absl::Now();
  const grpc::Status status = attacker.Upload(header, {}, false, server_limit + absl::Seconds(25));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_LT(took, server_limit + absl::Seconds(5)) << "cut after " << took << ", not by the coordinator";
}

TEST_F(HostileTest, UploadThatNeverEndsIsCutByTheCoordinator) {
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-stall");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  const int64_t honest_before = target().HonestTasksDone();
  ExpectStalledUploadCut(*attacker, HeaderFor(*task, target().codec_name(), target().ValidPayload().size()));
  ExpectCounted(before, target().Status(), {kRefusedDeadline});
  EXPECT_GT(target().HonestTasksDone(), honest_before) << "the honest worker stalled with the upload";
}

TEST_F(HostileTest, UploadThatNeverEndsForATaskThatNeverExistedIsCut) {
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-stall-none");
  ASSERT_NE(attacker, nullptr);
  Task made_up;
  made_up.set_task_id(uint64_t{1} << 61);
  made_up.set_shard_examples(100);
  const json before = target().Status();
  const int64_t honest_before = target().HonestTasksDone();
  ExpectStalledUploadCut(*attacker, HeaderFor(made_up, target().codec_name(), target().ValidPayload().size()));
  ExpectCounted(before, target().Status(), {kRefusedDeadline});
  EXPECT_GT(target().HonestTasksDone(), honest_before) << "the honest worker stalled with the upload";
}

TEST_F(HostileTest, MessageAboveTheReceiveLimitIsResourceExhausted) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-big");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const std::string payload = target().ValidPayload();
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), {std::string(4 << 20, 'x')})
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  HostileClient joiner(target().port());
  EXPECT_EQ(joiner.Join(std::string(3 << 20, 'n'), JoinToken("atk-big")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, WrongPayloadLengthForTheCodecIsInvalidArgument) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-length");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  const std::string short_payload = target().ValidPayload().substr(4);
  EXPECT_EQ(
      attacker->Upload(HeaderFor(*task, target().codec_name(), short_payload.size()), {short_payload}).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, NanAndInfValuesAreInvalidArgument) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-nan");
  ASSERT_NE(attacker, nullptr);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    absl::StatusOr<Task> task = attacker->LeaseTask();
    ASSERT_TRUE(task.ok()) << task.status();
    std::vector<float> update(target().num_params(), 0.0f);
    update[update.size() / 2] = bad;
    const std::string payload = target().Encode(update);
    const json before = target().Status();
    EXPECT_EQ(attacker->Upload(HeaderFor(*task, target().codec_name(), payload.size()), {payload}).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
    ExpectCounted(before, target().Status(), kInvalid);
  }
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, HeaderNamingAnotherCodecIsInvalidArgument) {
  const ModelState model = target().Freeze();
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-codec");
  ASSERT_NE(attacker, nullptr);
  absl::StatusOr<Task> task = attacker->LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  // A well-formed fp16 payload, where the job uses fp32.
  const std::string half(target().num_params() * 2, '\0');
  EXPECT_EQ(attacker->Upload(HeaderFor(*task, "fp16", half.size()), {half}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

TEST_F(HostileTest, HeartbeatFloodIsRateLimitedWithARetryHint) {
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-flood");
  ASSERT_NE(attacker, nullptr);
  const json before = target().Status();
  const int64_t honest_before = target().HonestTasksDone();
  int ok = 0, limited = 0, other = 0, without_hint = 0;
  const absl::Time end = absl::Now() + absl::Seconds(4);
  for (int i = 0; i < 20000 && absl::Now() < end; ++i) {
    std::unique_ptr<grpc::ClientContext> context = attacker->Context();
    tributary::v1::HeartbeatResponse response;
    const grpc::Status status = attacker->stub().Heartbeat(context.get(), {}, &response);
    if (status.ok()) {
      ++ok;
    } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++limited;
      int64_t retry_after_ms = 0;
      const std::string hint = TrailingMetadata(*context, kRetryAfterMetadataKey);
      without_hint += !absl::SimpleAtoi(hint, &retry_after_ms) || retry_after_ms <= 0;
    } else {
      ++other;
    }
  }
  const int64_t honest_after = target().HonestTasksDone();
  std::printf(
      "heartbeat flood: %d answered, %d limited (%d without a valid %s), %d other; "
      "honest tasks %lld -> %lld\n",
      ok, limited, without_hint, kRetryAfterMetadataKey, other, static_cast<long long>(honest_before),
      static_cast<long long>(honest_after));
  EXPECT_GT(limited, 0);
  EXPECT_EQ(without_hint, 0) << "every refusal carries " << kRetryAfterMetadataKey << " > 0";
  EXPECT_EQ(other, 0);
  ExpectCounted(before, target().Status(), {kRefusedRate});
  EXPECT_GT(honest_after, honest_before) << "the honest worker stalled during the flood";
}

// Leaving is answered even over the call rate: a worker that ends its job
// over the rate must leave, not be declared lost once it falls silent.
TEST_F(HostileTest, LeaveIsAnsweredOverTheCallRate) {
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-leave");
  ASSERT_NE(attacker, nullptr);
  bool limited = false;
  const absl::Time end = absl::Now() + absl::Seconds(4);
  for (int i = 0; i < 20000 && !limited && absl::Now() < end; ++i) {
    std::unique_ptr<grpc::ClientContext> context = attacker->Context();
    tributary::v1::HeartbeatResponse response;
    limited = attacker->stub().Heartbeat(context.get(), {}, &response).error_code() ==
              grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  ASSERT_TRUE(limited) << "the flood never reached the call rate";
  const grpc::Status leave = attacker->Leave();
  EXPECT_TRUE(leave.ok()) << leave.error_message();
  // It ended the session: a second Leave is refused, so Leave cannot be a
  // flood of its own.
  EXPECT_EQ(attacker->Leave().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(HostileTest, UnreadDownloadStreamsBeyondThePerWorkerCapAreRefused) {
  constexpr int kStreams = 200;
  // A small window that does not grow: an unread stream stays open.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  HostileClient attacker(target().port(), args);
  ASSERT_TRUE(attacker.Join("atk-streams", JoinToken("atk-streams")).ok());
  absl::StatusOr<Task> task = attacker.LeaseTask();
  ASSERT_TRUE(task.ok()) << task.status();
  const json before = target().Status();
  const int64_t honest_before = target().HonestTasksDone();

  UnreadStreams streams(attacker, kStreams, task->base_version());
  const int refused = streams.RefusedWithin(absl::Seconds(2));
  EXPECT_GE(refused, kStreams - kMaxStreamsPerWorker);
  // While they are held open, the coordinator serves everyone else.
  EXPECT_EQ(target().cluster().Text("/healthz"), "ok\n");
  EXPECT_TRUE(WaitFor([&] { return target().HonestTasksDone() > honest_before; }, absl::Seconds(10)))
      << "the honest worker stalled while the streams were open";
  ExpectCounted(before, target().Status(), {kRefusedStreams});
}

TEST_F(HostileTest, GarbageAndAHalfPrefaceOnTheGrpcPortAreDisconnected) {
  // How long the coordinator may leave a connection that never finishes its preface.
  constexpr absl::Duration kPrefaceWait = absl::Seconds(15);
  std::string garbage = "GET / HTTP/1.1\r\nHost: tributary\r\n\r\n";
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  const int junk = SendRaw(target().port(), garbage);
  const int half = SendRaw(target().port(), "PRI * HTTP/2.0\r\n");  // 16 of the preface's 24 bytes.
  ASSERT_GE(junk, 0);
  ASSERT_GE(half, 0);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(ClosedByPeer(junk, start + kPrefaceWait)) << "garbage left connected";
  EXPECT_TRUE(ClosedByPeer(half, start + kPrefaceWait)) << "a half preface left connected";
  std::printf("raw connections closed after %s\n", absl::FormatDuration(absl::Now() - start).c_str());
  close(junk);
  close(half);
  EXPECT_NE(target().Attacker("atk-raw"), nullptr) << "the coordinator stopped serving";
  EXPECT_EQ(target().cluster().Text("/healthz"), "ok\n");
}

TEST_F(HostileTest, RepeatOffenderIsBannedByIdentity) {
  std::unique_ptr<HostileClient> attacker = target().Attacker("atk-ban");
  ASSERT_NE(attacker, nullptr);
  const json before = target().Status();
  grpc::StatusCode last = grpc::StatusCode::OK;
  for (int i = 0; i <= 2 * kMaxInvalidRequests && last != grpc::StatusCode::PERMISSION_DENIED; ++i) {
    absl::StatusOr<Task> task = attacker->LeaseTask();
    if (!task.ok()) break;  // The session ended with the ban.
    last = attacker->Upload(HeaderFor(*task, "bogus", 4), {}, false).error_code();
  }
  EXPECT_EQ(last, grpc::StatusCode::PERMISSION_DENIED) << "never banned";

  HostileClient again(target().port());
  EXPECT_EQ(again.Join("atk-ban", JoinToken("atk-ban")).error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "a banned identity joined again";
  const json after = target().Status();
  ExpectCounted(before, after, {kRefusedBanned});
  bool shown_banned = false;
  for (const json& w : after.value("workers", json::array())) {
    if (w.value("name", "") == "atk-ban") shown_banned |= w.value("state", "") == "banned";
  }
  EXPECT_TRUE(shown_banned) << after.dump();
  bool listed = false;
  for (const json& ban : after.value("bans", json::array())) {
    if (!IsTokenIdentity(ban.value("identity", ""), "atk-ban")) continue;
    listed = true;
    EXPECT_FALSE(ban.value("reason", "").empty()) << ban.dump();
    EXPECT_GT(ban.value("until_unix_s", 0.0), absl::ToUnixSeconds(absl::Now())) << ban.dump();
  }
  EXPECT_TRUE(listed) << "bans: " << after.value("bans", json()).dump();
}

// The top-k job: the codec whose payload carries indices. No honest
// worker: nothing may move the model at all.
class HostileTopkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    target_ = std::make_unique<AttackTarget>("hostile-topk", kTopkJob, kIdentities, false);
  }
  static void TearDownTestSuite() { target_.reset(); }
  void SetUp() override { ASSERT_TRUE(target_->ready()) << "the coordinator under attack did not come up"; }
  void TearDown() override {
    if (target_->ready()) target_->ExpectBoundedAndUnharmed();
  }

  static AttackTarget& target() { return *target_; }

  // Submits a hand-made top-k payload: `count` as its count field, then
  // `indices` delta-encoded as the codec does, then one fp32 per index.
  static grpc::Status SubmitTopk(const std::string& identity, uint64_t count, const std::vector<int64_t>& indices) {
    std::string payload;
    AppendVarint(count, &payload);
    int64_t previous = -1;
    for (int64_t index : indices) {
      AppendVarint(static_cast<uint64_t>(index - previous), &payload);
      previous = index;
    }
    const float value = 0.5f;
    for (size_t i = 0; i < indices.size(); ++i) payload.append(reinterpret_cast<const char*>(&value), sizeof(value));
    std::unique_ptr<HostileClient> attacker = target().Attacker(identity);
    if (attacker == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "could not join");
    absl::StatusOr<Task> task = attacker->LeaseTask();
    if (!task.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, std::string(task.status().message()));
    return attacker->Upload(HeaderFor(*task, "topk", payload.size()), {payload});
  }

 private:
  static inline std::unique_ptr<AttackTarget> target_;
};

TEST_F(HostileTopkTest, IndexOutOfRangeIsInvalidArgument) {
  const ModelState model = target().Freeze();
  const json before = target().Status();
  const int64_t size = static_cast<int64_t>(target().num_params());
  EXPECT_EQ(SubmitTopk("atk-topk-range", 2, {3, size + 10}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

TEST_F(HostileTopkTest, UnsortedIndicesAreInvalidArgument) {
  const ModelState model = target().Freeze();
  const json before = target().Status();
  // Deltas are unsigned: 9 after 9 is the only way to go back, a zero gap.
  EXPECT_EQ(SubmitTopk("atk-topk-order", 3, {4, 9, 9}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

TEST_F(HostileTopkTest, CountAboveTheJobsTopkIsInvalidArgument) {
  const ModelState model = target().Freeze();
  const json before = target().Status();
  std::vector<int64_t> indices;
  for (int64_t i = 0; i <= kTopkCount; ++i) indices.push_back(i);
  EXPECT_EQ(SubmitTopk("atk-topk-count", kTopkCount + 1, indices).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectCounted(before, target().Status(), kInvalid);
  target().ExpectUntouched(model);
}

}  // namespace
}  // namespace tributary::testing
