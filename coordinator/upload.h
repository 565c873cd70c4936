// Reassembly of one chunked upload (SubmitUpdate): the header first, then
// payload chunks up to exactly the size the header announced. Pure: no
// gRPC, no clock; the service feeds it the stream's messages and enforces
// the stream's deadline itself.
//
// Everything a client claims is bounded before it is buffered: the
// announced size against the codec's largest valid payload, the number of
// messages against what that size needs (so a client cannot send a model in
// one-byte chunks), and the bytes held against the announced size (memory
// grows with what actually arrived, never with what was claimed).
#ifndef TRIBUTARY_COORDINATOR_UPLOAD_H_
#define TRIBUTARY_COORDINATOR_UPLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tributary/v1/coordinator.pb.h"

namespace tributary::coordinator {

// A client may split its payload into pieces this small and no smaller
// (give or take one piece) before it runs out of messages; honest workers
// send kMaxChunkBytes (common/wire.h).
inline constexpr size_t kMinUploadChunkBytes = 64 * 1024;

// The most messages (header included) an upload of `encoded_bytes` may take.
int64_t MaxUploadMessages(uint64_t encoded_bytes);

class UploadAssembler {
 public:
  // `max_bytes`: the largest payload accepted (the codec's MaxEncodedBytes).
  explicit UploadAssembler(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the stream's next message. INVALID_ARGUMENT for a stream out of
  // shape (no header first, a second header, more bytes than announced),
  // RESOURCE_EXHAUSTED for an announced size above the limit or too many
  // messages. After an error the upload is dead: the caller ends the stream.
  absl::Status Add(const tributary::v1::SubmitUpdateChunk& chunk);

  // The stream ended: OK when the header came and the payload is complete.
  absl::Status Finish() const;

  bool has_header() const { return has_header_; }
  const tributary::v1::UpdateHeader& header() const { return header_; }
  const std::string& payload() const { return payload_; }
  // Moves the payload out (after Finish() returned OK).
  std::string TakePayload() { return std::move(payload_); }

 private:
  absl::Status AddHeader(const tributary::v1::UpdateHeader& header);
  absl::Status AddData(absl::string_view data);

  const size_t max_bytes_;
  tributary::v1::UpdateHeader header_;
  bool has_header_ = false;
  int64_t messages_ = 0;
  std::string payload_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_UPLOAD_H_
