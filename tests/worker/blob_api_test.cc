#include "worker/blob_api.h"

#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tributary::worker {
namespace {

std::string Digest(const std::string& bytes) { return DigestBytes(Sha256(bytes)); }

// Serves payloads over "gRPC" and counts the calls; DescribeModel* name
// them by digest.
class FakeApi : public CoordinatorApi {
 public:
  std::map<uint64_t, std::string> models;
  std::map<std::pair<uint64_t, uint64_t>, std::string> deltas;
  std::string shard = "shard bytes";
  int fetches = 0;
  int describes = 0;

  absl::StatusOr<std::string> FetchModel(uint64_t version, const std::string&, uint64_t) override {
    ++fetches;
    return models.at(version);
  }
  absl::StatusOr<std::string> FetchModelDelta(uint64_t version, uint64_t from, uint64_t) override {
    ++fetches;
    return deltas.at({from, version});
  }
  absl::StatusOr<std::string> FetchShard(uint64_t, const std::string&, uint64_t) override {
    ++fetches;
    return shard;
  }
  absl::StatusOr<BlobRef> DescribeModel(uint64_t version) override {
    ++describes;
    return BlobRef{Digest(models.at(version)), models.at(version).size()};
  }
  absl::StatusOr<BlobRef> DescribeModelDelta(uint64_t version, uint64_t from) override {
    ++describes;
    const auto it = deltas.find({from, version});
    if (it == deltas.end()) return absl::NotFoundError("gone");
    return BlobRef{Digest(it->second), it->second.size()};
  }

  absl::StatusOr<tributary::v1::JoinResponse> Join(const tributary::v1::JoinRequest&) override {
    return tributary::v1::JoinResponse();
  }
  absl::StatusOr<tributary::v1::HeartbeatResponse> Heartbeat(uint64_t, absl::Span<const uint64_t>) override {
    return tributary::v1::HeartbeatResponse();
  }
  absl::StatusOr<tributary::v1::GetTaskResponse> GetTask(absl::Span<const uint64_t>) override {
    return tributary::v1::GetTaskResponse();
  }
  absl::StatusOr<tributary::v1::SubmitUpdateResponse> SubmitUpdate(const tributary::v1::UpdateHeader&,
                                                                   const std::string&, absl::Duration*,
                                                                   const UploadProgress&) override {
    return tributary::v1::SubmitUpdateResponse();
  }
  absl::Status Leave() override { return absl::OkStatus(); }
  bool WaitForConnection(absl::Duration) override { return true; }
};

// Answers by digest from `blobs`, or with `error` when it is set.
class FakeSource : public BlobSource {
 public:
  std::map<std::string, std::string> blobs;  // By digest (wire form).
  absl::Status error;
  int gets = 0;

  void Put(const std::string& bytes) { blobs[Digest(bytes)] = bytes; }
  absl::StatusOr<BlobBody> Get(const BlobRef& ref) override {
    ++gets;
    if (!error.ok()) return error;
    const auto it = blobs.find(ref.sha256);
    if (it == blobs.end()) return absl::NotFoundError("HTTP 404");
    return BlobBody{it->second, Sha256(it->second)};
  }
  std::string Url(const BlobRef&) const override { return "http://cache/blobs/..."; }
};

class BlobFirstApiTest : public ::testing::Test {
 protected:
  FakeApi api_;
  FakeSource source_;
  BlobFirstApi blobs_{api_, source_};
};

TEST_F(BlobFirstApiTest, AShardComesOverHttpWhenItsDigestMatches) {
  source_.Put(api_.shard);
  const absl::StatusOr<std::string> shard = blobs_.FetchShard(3, Digest(api_.shard), api_.shard.size());
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(*shard, api_.shard);
  EXPECT_EQ(api_.fetches, 0);
  EXPECT_EQ(blobs_.stats().ok, 1);
  EXPECT_EQ(blobs_.stats().bytes, static_cast<int64_t>(api_.shard.size()));
}

TEST_F(BlobFirstApiTest, ACorruptedBlobIsCaughtAndFetchedOverGrpc) {
  // The cache holds other bytes under the shard's digest.
  source_.blobs[Digest(api_.shard)] = std::string(api_.shard.size(), 'x');
  const absl::StatusOr<std::string> shard = blobs_.FetchShard(3, Digest(api_.shard), api_.shard.size());
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(*shard, api_.shard);
  EXPECT_EQ(api_.fetches, 1);
  EXPECT_EQ(blobs_.stats().failed, 1);
  EXPECT_EQ(blobs_.stats().digest_mismatches, 1);
  EXPECT_EQ(blobs_.stats().ok, 0);
}

TEST_F(BlobFirstApiTest, AShortBodyOrAnUnreachableCacheFallsBackToo) {
  source_.blobs[Digest(api_.shard)] = api_.shard.substr(1);
  EXPECT_EQ(*blobs_.FetchShard(3, Digest(api_.shard), api_.shard.size()), api_.shard);
  source_.error = absl::UnavailableError("connection refused");
  EXPECT_EQ(*blobs_.FetchShard(3, Digest(api_.shard), api_.shard.size()), api_.shard);
  EXPECT_EQ(api_.fetches, 2);
  EXPECT_EQ(blobs_.stats().failed, 2);
  EXPECT_EQ(blobs_.stats().digest_mismatches, 0);
  EXPECT_EQ(blobs_.stats().Line(), "0 ok (0 bytes), 2 failed (0 digest mismatches)");
}

TEST_F(BlobFirstApiTest, AModelNamedOnlyByItsVersionIsDescribedThenFetchedOverHttp) {
  api_.models[7] = std::string(64, 'm');
  source_.Put(api_.models[7]);
  const absl::StatusOr<std::string> model = blobs_.FetchModel(7, "", 1024);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(*model, api_.models[7]);
  EXPECT_EQ(api_.describes, 1);
  EXPECT_EQ(api_.fetches, 0);
}

TEST_F(BlobFirstApiTest, ADeltaIsDescribedThenFetchedOverHttp) {
  api_.deltas[{6, 7}] = "delta 6->7";
  source_.Put(api_.deltas[{6, 7}]);
  EXPECT_EQ(*blobs_.FetchModelDelta(7, 6, 1024), "delta 6->7");
  EXPECT_EQ(api_.fetches, 0);
}

TEST_F(BlobFirstApiTest, ADeltaNoLongerHeldIsNotFoundWithoutAStream) {
  EXPECT_EQ(blobs_.FetchModelDelta(7, 2, 1024).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(api_.fetches, 0);
  EXPECT_EQ(source_.gets, 0);
}

TEST_F(BlobFirstApiTest, ADeltaLargerThanAllowedIsNotFetchedOverHttp) {
  api_.deltas[{6, 7}] = std::string(100, 'd');
  source_.Put(api_.deltas[{6, 7}]);
  EXPECT_TRUE(blobs_.FetchModelDelta(7, 6, 99).ok());
  EXPECT_EQ(source_.gets, 0);
  EXPECT_EQ(api_.fetches, 1);
}

}  // namespace
}  // namespace tributary::worker
