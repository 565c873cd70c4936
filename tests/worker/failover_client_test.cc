// FailoverClient over fake coordinators: it follows a standby's word to the
// leader, walks its list when a coordinator is unreachable, and keeps one
// client per address.
#include "worker/failover_client.h"

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

// A coordinator that leads, stands by (naming `leader`) or is down.
struct FakeState {
  enum Kind { kLeader, kStandby, kDown } kind = kDown;
  std::string leader = "";  // What a standby names; "" for none.
  int calls = 0;
};

class FakeCoordinator : public CoordinatorApi {
 public:
  explicit FakeCoordinator(FakeState& state) : state_(state) {}

  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest&) override {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return tributary::v1::JoinResponse();
  }
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t, absl::Span<const uint64_t>) override {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return tributary::v1::HeartbeatResponse();
  }
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t>) override {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return tributary::v1::GetTaskResponse();
  }
  absl::StatusOr<std::string> FetchModel(uint64_t, const std::string&, uint64_t) override { return Bytes(); }
  absl::StatusOr<std::string> FetchModelDelta(uint64_t, uint64_t, uint64_t) override { return Bytes(); }
  absl::StatusOr<std::string> FetchShard(uint64_t, const std::string&, uint64_t) override { return Bytes(); }
  absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t, uint64_t) override {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return BlobRef{"digest", 5};
  }
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(const tributary::v1::UpdateHeader&,
                                                                   const std::string&, absl::Duration*,
                                                                   const UploadProgress&) override {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return tributary::v1::SubmitUpdateResponse();
  }
  absl::Status Leave() override { return Answer(); }
  bool WaitForConnection(absl::Duration) override { return state_.kind != FakeState::kDown; }

 private:
  absl::Status Answer() {
    ++state_.calls;
    switch (state_.kind) {
      case FakeState::kLeader:
        return absl::OkStatus();
      case FakeState::kStandby: {
        absl::Status standby = absl::UnavailableError("standby");
        return state_.leader.empty() ? standby : WithLeaderHint(standby, state_.leader);
      }
      case FakeState::kDown:
        return absl::UnavailableError("connection refused");
    }
    return absl::InternalError("unreachable");
  }
  absl::StatusOr<std::string> Bytes() {
    if (absl::Status s = Answer(); !s.ok()) return s;
    return std::string("bytes");
  }
  FakeState& state_;
};

class FailoverClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<FailoverClient> MakeClient(std::vector<std::string> addresses) {
    return std::make_unique<FailoverClient>(std::move(addresses), [this](const std::string& address) {
      ++connects_[address];
      return std::make_unique<FakeCoordinator>(states_[address]);
    });
  }
  std::map<std::string, FakeState> states_;
  std::map<std::string, int> connects_;
};

TEST_F(FailoverClientTest, AStandbyNamingTheLeaderSendsTheNextCallThere) {
  states_["a:1"] = {FakeState::kStandby, "c:1"};
  states_["b:1"] = {FakeState::kStandby, "c:1"};
  states_["c:1"] = {FakeState::kLeader, ""};
  auto client_ptr = MakeClient({"a:1", "b:1", "c:1"});
  FailoverClient& client = *client_ptr;
  absl::StatusOr<tributary::v1::JoinResponse> first = client.Join({});
  ASSERT_TRUE(absl::IsUnavailable(first.status()));  // The worker's loop retries.
  EXPECT_EQ(client.current(), "c:1");
  EXPECT_TRUE(client.Join({}).ok());
  EXPECT_TRUE(client.GetTask({}).ok());
  EXPECT_EQ(states_["b:1"].calls, 0);
  EXPECT_EQ(connects_["c:1"], 1);
}

TEST_F(FailoverClientTest, AnUnreachableCoordinatorMovesOnDownTheListAndWraps) {
  states_["a:1"] = {FakeState::kDown, ""};
  states_["b:1"] = {FakeState::kDown, ""};
  states_["c:1"] = {FakeState::kLeader, ""};
  auto client_ptr = MakeClient({"a:1", "b:1", "c:1"});
  FailoverClient& client = *client_ptr;
  EXPECT_FALSE(client.WaitForConnection(absl::Milliseconds(1)));
  EXPECT_EQ(client.current(), "b:1");
  EXPECT_FALSE(client.Heartbeat(0, {}).ok());
  EXPECT_EQ(client.current(), "c:1");
  EXPECT_TRUE(client.WaitForConnection(absl::Milliseconds(1)));
  EXPECT_TRUE(client.FetchShard(1, "", 5).ok());
  // The leader dies; the first of the list takes over.
  states_["c:1"].kind = FakeState::kDown;
  states_["a:1"].kind = FakeState::kLeader;
  EXPECT_FALSE(client.GetTask({}).ok());
  EXPECT_EQ(client.current(), "a:1");
  EXPECT_TRUE(client.GetTask({}).ok());
  EXPECT_EQ(connects_["a:1"], 1);  // Connections are kept, not remade.
}

// Digest-only calls (--blob_url, blob_api.h) follow the leader like the rest.
TEST_F(FailoverClientTest, DigestOnlyCallsFollowTheLeader) {
  states_["a:1"] = {FakeState::kStandby, "b:1"};
  states_["b:1"] = {FakeState::kLeader, ""};
  auto client_ptr = MakeClient({"a:1", "b:1"});
  EXPECT_TRUE(absl::IsUnavailable(client_ptr->DescribeModelDelta(2, 1).status()));
  EXPECT_EQ(client_ptr->current(), "b:1");
  const absl::StatusOr<BlobRef> ref = client_ptr->DescribeModelDelta(2, 1);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->bytes, 5u);
}

TEST_F(FailoverClientTest, OtherErrorsDoNotMoveAndOneAddressStaysPut) {
  states_["a:1"] = {FakeState::kDown, ""};
  auto single_ptr = MakeClient({"a:1"});
  FailoverClient& single = *single_ptr;
  EXPECT_FALSE(single.WaitForConnection(absl::Milliseconds(1)));
  EXPECT_FALSE(single.Join({}).ok());
  EXPECT_EQ(single.current(), "a:1");
  // One name that resolves to every coordinator: a standby behind it still
  // sends the worker to the leader's own address.
  states_["a:1"] = {FakeState::kStandby, "z:9"};
  states_["z:9"] = {FakeState::kLeader, ""};
  EXPECT_FALSE(single.Join({}).ok());
  EXPECT_EQ(single.current(), "z:9");
  EXPECT_TRUE(single.Join({}).ok());
}

}  // namespace
}  // namespace tributary::worker
