#include "coordinator/upload.h"

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

int64_t MaxUploadMessages(uint64_t encoded_bytes) {
  // The header, then the payload in pieces of at least kMinUploadChunkBytes,
  // and one piece of slack for a split at an odd place.
  return 2 + static_cast<int64_t>((encoded_bytes + kMinUploadChunkBytes - 1) / kMinUploadChunkBytes);
}

absl::Status UploadAssembler::Add(const tributary::v1::SubmitUpdateChunk& chunk) {
  ++messages_;
  if (!has_header_) {
    if (!chunk.has_header()) {
      return absl::InvalidArgumentError("SubmitUpdate: the first message must be the header");
    }
    return AddHeader(chunk.header());
  }
  if (!chunk.has_data()) return absl::InvalidArgumentError("SubmitUpdate: a second header");
  if (messages_ > MaxUploadMessages(header_.encoded_bytes())) {
    return absl::ResourceExhaustedError(absl::StrCat("task ", header_.task_id(), ": more than ",
                                                     MaxUploadMessages(header_.encoded_bytes()),
                                                     " messages for ", header_.encoded_bytes(), " bytes"));
  }
  return AddData(chunk.data());
}

absl::Status UploadAssembler::AddHeader(const tributary::v1::UpdateHeader& header) {
  if (header.encoded_bytes() > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat("task ", header.task_id(), ": update of ",
                                                     header.encoded_bytes(), " bytes exceeds the limit of ",
                                                     max_bytes_));
  }
  header_ = header;
  has_header_ = true;
  return absl::OkStatus();
}

absl::Status UploadAssembler::AddData(absl::string_view data) {
  if (data.size() > header_.encoded_bytes() - payload_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", header_.task_id(), ": more payload than the header's ",
                                                   header_.encoded_bytes(), " bytes"));
  }
  payload_.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::Status UploadAssembler::Finish() const {
  if (!has_header_) return absl::InvalidArgumentError("SubmitUpdate: empty stream");
  if (payload_.size() != header_.encoded_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("task ", header_.task_id(), ": payload has ", payload_.size(),
                                                   " of ", header_.encoded_bytes(), " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace tributary::coordinator
