// Fuzzes the checkpoint reader (common/checkpoint.h). The first byte picks
// what the rest is:
//   even: a whole checkpoint file, for ParseCheckpointFile to verify; the
//         SHA-256 keeps almost every mutation out of the body parser, so
//   odd:  a Checkpoint body; one that parses is framed by
//         EncodeCheckpointFile and must read back as itself.
// A checkpoint that reads goes on to CheckpointParams, as tributary-sample
// and tributary-export take it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/checkpoint.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "tests/fuzz/quiet_protobuf.h"
#include "tests/fuzz/require.h"

namespace tributary::fuzz {
namespace {

// The message's bytes with map entries in key order: two equal messages
// with maps of two or more entries may serialize in different orders.
std::string DeterministicBytes(const tributary::v1::Checkpoint& checkpoint) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    checkpoint.SerializeToCodedStream(&coded);
  }
  return bytes;
}

void CheckParams(const tributary::v1::Checkpoint& checkpoint) {
  absl::StatusOr<std::vector<float>> params = CheckpointParams(checkpoint);
  if (!params.ok()) return;
  FUZZ_REQUIRE(params->size() * sizeof(float) == checkpoint.params().size(), "weights keep their size");
}

void FuzzFile(absl::string_view file) {
  absl::StatusOr<tributary::v1::Checkpoint> checkpoint = ParseCheckpointFile(file, "fuzz.tckpt");
  if (checkpoint.ok()) CheckParams(*checkpoint);
}

void FuzzBody(absl::string_view body) {
  tributary::v1::Checkpoint written;
  if (!written.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
  absl::StatusOr<std::string> file = EncodeCheckpointFile(written);
  FUZZ_REQUIRE(file.ok(), "a parsed checkpoint serializes");
  absl::StatusOr<tributary::v1::Checkpoint> read = ParseCheckpointFile(*file, "fuzz.tckpt");
  FUZZ_REQUIRE(read.ok(), "a written checkpoint reads back");
  FUZZ_REQUIRE(DeterministicBytes(*read) == DeterministicBytes(written), "it reads back as written");
  CheckParams(*read);
}

}  // namespace
}  // namespace tributary::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    tributary::fuzz::FuzzFile(rest);
  } else {
    tributary::fuzz::FuzzBody(rest);
  }
  return 0;
}
