// Fuzzes chunked-upload reassembly (coordinator/upload.h): one
// UploadAssembler fed the SubmitUpdate stream the input spells out,
//
//   u24 LE   max_bytes, the codec's largest payload
//   then, until the input ends, varint v and:
//     v even: v / 2 bytes, a serialized SubmitUpdateChunk (skipped when
//             they do not parse, as gRPC would never deliver them)
//     v odd:  a data chunk of v / 2 bytes (at most kMaxFillBytes), so that
//             short inputs reach uploads of many full-sized chunks
//
// and held to its promises after every message: nothing past max_bytes is
// announced, nothing past the announced size is held, no more messages are
// taken than MaxUploadMessages allows, and an upload that finishes holds
// exactly the announced payload.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/codec/bytes.h"
#include "coordinator/upload.h"
#include "tests/fuzz/quiet_protobuf.h"
#include "tests/fuzz/require.h"

namespace tributary::fuzz {
namespace {

using tributary::coordinator::MaxUploadMessages;
using tributary::coordinator::UploadAssembler;
using tributary::v1::SubmitUpdateChunk;

constexpr size_t kMaxFillBytes = 1 << 20;

// The next message of the stream, or false at the end of the input.
bool NextChunk(PayloadReader& in, SubmitUpdateChunk* chunk, bool* parsed) {
  uint64_t v;
  if (!in.ReadVarint(&v)) return false;
  chunk->Clear();
  *parsed = true;
  if (v % 2 == 1) {
    const size_t n = std::min<uint64_t>(v / 2, kMaxFillBytes);
    chunk->set_data(std::string(n, static_cast<char>(n)));
    return true;
  }
  absl::string_view bytes;
  if (!in.Take(v / 2, &bytes)) return false;
  *parsed = chunk->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  return true;
}

void CheckHeld(const UploadAssembler& upload, size_t max_bytes, int64_t taken) {
  if (!upload.has_header()) return;
  const uint64_t announced = upload.header().encoded_bytes();
  FUZZ_REQUIRE(announced <= max_bytes, "no announced size above the limit is taken");
  FUZZ_REQUIRE(upload.payload().size() <= announced, "no more bytes are held than announced");
  FUZZ_REQUIRE(taken <= MaxUploadMessages(announced), "no more messages are taken than the size needs");
}

void Run(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const size_t max_bytes = data[0] | data[1] << 8 | data[2] << 16;
  PayloadReader in(absl::string_view(reinterpret_cast<const char*>(data + 3), size - 3));
  UploadAssembler upload(max_bytes);
  SubmitUpdateChunk chunk;
  bool parsed;
  int64_t taken = 0;
  while (NextChunk(in, &chunk, &parsed)) {
    if (!parsed) continue;
    if (!upload.Add(chunk).ok()) return;  // A dead upload: the service ends the stream.
    CheckHeld(upload, max_bytes, ++taken);
  }
  if (upload.Finish().ok()) {
    FUZZ_REQUIRE(upload.payload().size() == upload.header().encoded_bytes(), "a finished upload is whole");
  }
}

}  // namespace
}  // namespace tributary::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tributary::fuzz::Run(data, size);
  return 0;
}
