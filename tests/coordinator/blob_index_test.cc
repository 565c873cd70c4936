#include "coordinator/blob_index.h"

#include <memory>
#include <string>

#include "coordinator/blob_counters.h"
#include "gtest/gtest.h"
#include "tests/coordinator/test_data.h"

namespace tributary::coordinator {
namespace {

TEST(BlobIndexTest, FindsEveryShardByItsDigest) {
  const std::unique_ptr<Dataset> dataset = TinyDataset(40, 10);
  const BlobIndex index(*dataset);
  for (const Shard& shard : dataset->shards) {
    const std::optional<Blob> blob = index.Find(shard.sha256);
    ASSERT_TRUE(blob.has_value());
    EXPECT_EQ(blob->kind, BlobKind::kShard);
    EXPECT_EQ(blob->bytes, dataset->ShardBytes(shard));
    EXPECT_EQ(Sha256(blob->bytes), shard.sha256);
  }
  EXPECT_FALSE(index.Find(Sha256("not a shard")).has_value());
}

TEST(BlobIndexTest, HoldsAModelOnlyWhileSomethingElseDoes) {
  const std::unique_ptr<Dataset> dataset = TinyDataset(10, 10);
  BlobIndex index(*dataset);
  auto model = std::make_shared<const std::string>("weights of v3");
  const Sha256Digest digest = Sha256(*model);
  index.Add(BlobKind::kModel, digest, model, *model);
  std::optional<Blob> blob = index.Find(digest);
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(blob->kind, BlobKind::kModel);
  EXPECT_EQ(blob->bytes, "weights of v3");
  EXPECT_EQ(model.use_count(), 2) << "a found blob keeps its bytes alive while it is written";
  blob.reset();
  model.reset();  // The version fell out of the staleness bound.
  EXPECT_FALSE(index.Find(digest).has_value());
  EXPECT_FALSE(index.Has(digest));
}

TEST(BlobIndexTest, DropsExpiredEntriesThenTheOldestAtItsBound) {
  const std::unique_ptr<Dataset> dataset = TinyDataset(10, 10);
  BlobIndex index(*dataset, /*max_held=*/2);
  auto a = std::make_shared<const std::string>("a");
  auto b = std::make_shared<const std::string>("b");
  auto c = std::make_shared<const std::string>("c");
  index.Add(BlobKind::kDelta, Sha256(*a), a, *a);
  index.Add(BlobKind::kDelta, Sha256(*b), b, *b);
  index.Add(BlobKind::kDelta, Sha256(*c), c, *c);
  EXPECT_EQ(index.held_entries(), 2u);
  EXPECT_FALSE(index.Has(Sha256(*a))) << "the oldest went";
  EXPECT_TRUE(index.Has(Sha256(*b)));
  EXPECT_TRUE(index.Has(Sha256(*c)));
  b.reset();
  index.Add(BlobKind::kDelta, Sha256(*a), a, *a);
  EXPECT_TRUE(index.Has(Sha256(*a)));
  EXPECT_TRUE(index.Has(Sha256(*c))) << "the expired entry went, not the oldest live one";
  EXPECT_EQ(index.held_entries(), 2u);
}

TEST(BlobCountersTest, CountsByKindAndByDigestWithinItsBound) {
  BlobCounters counters(/*max_digests=*/2);
  counters.Served(BlobKind::kShard, Sha256("s1"), 100);
  counters.Served(BlobKind::kShard, Sha256("s1"), 100);
  counters.Served(BlobKind::kModel, Sha256("m1"), 1000);
  counters.Served(BlobKind::kDelta, Sha256("d1"), 0);
  counters.NotFound();
  counters.BadRequest();
  counters.BadRequest();
  const BlobStats stats = counters.stats();
  EXPECT_EQ(stats.served[static_cast<int>(BlobKind::kShard)], 2);
  EXPECT_EQ(stats.served[static_cast<int>(BlobKind::kModel)], 1);
  EXPECT_EQ(stats.served[static_cast<int>(BlobKind::kDelta)], 1);
  EXPECT_EQ(stats.bytes_sent, 1200);
  EXPECT_EQ(stats.not_found, 1);
  EXPECT_EQ(stats.bad_request, 2);
  const std::vector<DigestServes> per_digest = counters.PerDigest();
  ASSERT_EQ(per_digest.size(), 2u) << "s1, served first, is forgotten";
  EXPECT_EQ(per_digest[0].digest, Sha256("m1"));
  EXPECT_EQ(per_digest[0].serves, 1);
  EXPECT_EQ(per_digest[1].digest, Sha256("d1"));
  EXPECT_EQ(per_digest[1].kind, BlobKind::kDelta);
}

}  // namespace
}  // namespace tributary::coordinator
