#include "coordinator/blob_http.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "coordinator/metrics.h"
#include "coordinator/status_json.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

HttpRequest Get(const std::string& path, const std::string& method = "GET") {
  HttpRequest request;
  request.method = method;
  request.path = path;
  return request;
}

class BlobHttpTest : public ::testing::Test {
 protected:
  BlobHttpTest() : dataset_(TinyDataset(20, 10)), index_(*dataset_) {
    index_.Add(BlobKind::kModel, Sha256(*model_), model_, *model_);
  }

  std::unique_ptr<Dataset> dataset_;
  std::shared_ptr<const std::string> model_ = std::make_shared<const std::string>(1000, 'w');
  BlobIndex index_;
  BlobCounters counters_;
};

TEST_F(BlobHttpTest, ServesAModelImmutableWithoutCopyingIt) {
  const std::string hex = Sha256Hex(Sha256(*model_));
  const HttpResponse response = ServeBlob(Get("/blobs/" + hex), index_, counters_);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/octet-stream");
  EXPECT_THAT(response.headers, Contains(Pair("Cache-Control", "public, max-age=31536000, immutable")));
  EXPECT_THAT(response.headers, Contains(Pair("ETag", absl::StrCat("\"", hex, "\""))));
  ASSERT_TRUE(response.shared_body.has_value());
  EXPECT_EQ(response.shared_body->data(), model_->data()) << "the snapshot's own bytes";
  EXPECT_EQ(response.body_owner, model_);
  EXPECT_THAT(SerializeHead(response), HasSubstr("Content-Length: 1000\r\n"));
  EXPECT_EQ(counters_.stats().served[static_cast<int>(BlobKind::kModel)], 1);
  EXPECT_EQ(counters_.stats().bytes_sent, 1000);
}

TEST_F(BlobHttpTest, ServesAShardAndCountsAHeadWithoutBytes) {
  const Shard& shard = dataset_->shards[1];
  const HttpResponse response = ServeBlob(Get("/blobs/" + Sha256Hex(shard.sha256), "HEAD"), index_, counters_);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Body(), dataset_->ShardBytes(shard));
  EXPECT_EQ(counters_.stats().served[static_cast<int>(BlobKind::kShard)], 1);
  EXPECT_EQ(counters_.stats().bytes_sent, 0);
}

TEST_F(BlobHttpTest, AnUnknownDigestIsANotFoundNoCacheKeeps) {
  const HttpResponse response = ServeBlob(Get("/blobs/" + Sha256Hex(Sha256("nothing"))), index_, counters_);
  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.headers, Contains(Pair("Cache-Control", "no-store")));
  EXPECT_EQ(counters_.stats().not_found, 1);
}

TEST_F(BlobHttpTest, AModelNoLongerHeldIsNotFound) {
  const std::string hex = Sha256Hex(Sha256(*model_));
  model_.reset();
  EXPECT_EQ(ServeBlob(Get("/blobs/" + hex), index_, counters_).status, 404);
}

TEST_F(BlobHttpTest, AMalformedDigestIsABadRequest) {
  const std::string hex = Sha256Hex(Sha256(*model_));
  for (const std::string& path : {std::string("/blobs/"), "/blobs/" + hex + "/x", "/blobs/" + hex.substr(2),
                                  std::string("/blobs/../../etc/passwd"), "/blobs/%41" + hex.substr(3)}) {
    const HttpResponse response = ServeBlob(Get(path), index_, counters_);
    EXPECT_EQ(response.status, 400) << path;
    EXPECT_THAT(response.headers, Contains(Pair("Cache-Control", "no-store"))) << path;
  }
  EXPECT_EQ(counters_.stats().bad_request, 5);
}

TEST(BlobStatsRenderingTest, StatusJsonAndMetricsNameEveryKind) {
  BlobStats stats;
  stats.served = {3, 2, 7};
  stats.bytes_sent = 12345;
  stats.not_found = 4;
  const nlohmann::json json = BlobStatsJson(stats);
  EXPECT_EQ(json["served"]["model"], 3);
  EXPECT_EQ(json["served"]["delta"], 2);
  EXPECT_EQ(json["served"]["shard"], 7);
  EXPECT_EQ(json["bytes_sent"], 12345);
  EXPECT_EQ(json["not_found"], 4);
  const std::string metrics = BlobPrometheusText(stats);
  EXPECT_THAT(metrics, HasSubstr("tributary_blob_requests_total{kind=\"shard\",result=\"served\"} 7\n"));
  EXPECT_THAT(metrics, HasSubstr("tributary_blob_requests_total{kind=\"unknown\",result=\"not_found\"} 4\n"));
  EXPECT_THAT(metrics, HasSubstr("tributary_blob_bytes_sent_total 12345\n"));
}

}  // namespace
}  // namespace tributary::coordinator
