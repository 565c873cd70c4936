#include "coordinator/upload.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary::coordinator {
namespace {

using tributary::v1::SubmitUpdateChunk;

SubmitUpdateChunk Header(uint64_t encoded_bytes) {
  SubmitUpdateChunk chunk;
  chunk.mutable_header()->set_task_id(7);
  chunk.mutable_header()->set_encoded_bytes(encoded_bytes);
  return chunk;
}

SubmitUpdateChunk Data(const std::string& bytes) {
  SubmitUpdateChunk chunk;
  chunk.set_data(bytes);
  return chunk;
}

TEST(UploadAssemblerTest, ReassemblesChunksInOrder) {
  UploadAssembler upload(100);
  ASSERT_TRUE(upload.Add(Header(5)).ok());
  ASSERT_TRUE(upload.Add(Data("abc")).ok());
  ASSERT_TRUE(upload.Add(Data("de")).ok());
  EXPECT_TRUE(upload.Finish().ok());
  EXPECT_EQ(upload.payload(), "abcde");
  EXPECT_EQ(upload.header().task_id(), 7u);
}

TEST(UploadAssemblerTest, EmptyPayloadIsOneHeader) {
  UploadAssembler upload(100);
  ASSERT_TRUE(upload.Add(Header(0)).ok());
  EXPECT_TRUE(upload.Finish().ok());
}

TEST(UploadAssemblerTest, RefusesDataBeforeTheHeader) {
  UploadAssembler upload(100);
  EXPECT_EQ(upload.Add(Data("x")).code(), absl::StatusCode::kInvalidArgument);
}

TEST(UploadAssemblerTest, RefusesASecondHeader) {
  UploadAssembler upload(100);
  ASSERT_TRUE(upload.Add(Header(5)).ok());
  EXPECT_EQ(upload.Add(Header(5)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(UploadAssemblerTest, RefusesAnAnnouncedSizeOverTheLimitBeforeBuffering) {
  UploadAssembler upload(100);
  EXPECT_EQ(upload.Add(Header(101)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(upload.has_header());
}

TEST(UploadAssemblerTest, RefusesMoreBytesThanAnnounced) {
  UploadAssembler upload(100);
  ASSERT_TRUE(upload.Add(Header(4)).ok());
  ASSERT_TRUE(upload.Add(Data("abc")).ok());
  EXPECT_EQ(upload.Add(Data("de")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(upload.payload().size(), 3u);
}

TEST(UploadAssemblerTest, ShortPayloadFailsAtTheEnd) {
  UploadAssembler upload(100);
  ASSERT_TRUE(upload.Add(Header(4)).ok());
  ASSERT_TRUE(upload.Add(Data("abc")).ok());
  EXPECT_EQ(upload.Finish().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UploadAssembler(100).Finish().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UploadAssemblerTest, BoundsTheMessageCountAtTheLimit) {
  const uint64_t bytes = 2 * kMinUploadChunkBytes;
  ASSERT_EQ(MaxUploadMessages(bytes), 4);
  UploadAssembler upload(bytes);
  ASSERT_TRUE(upload.Add(Header(bytes)).ok());
  // Empty pieces add nothing but still count.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(upload.Add(Data("")).ok());
  EXPECT_EQ(upload.Add(Data("")).code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tributary::coordinator
