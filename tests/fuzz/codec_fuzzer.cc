// Fuzzes update decoding: Codec::Decode of every codec (codec_cases.h) and
// the worker's ApplyModelDelta, on payloads straight from the input. Beyond
// the sanitizers' checks, an accepted payload must keep Decode's contract:
// no larger than MaxEncodedBytes (receivers refuse larger uploads unread),
// and every decoded value finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/codec/codec.h"
#include "common/codec/model_delta.h"
#include "tests/fuzz/codec_cases.h"
#include "tests/fuzz/require.h"

namespace tributary::fuzz {
namespace {

bool AllFinite(const std::vector<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

class CodecFuzzer {
 public:
  CodecFuzzer() : layout_(CodecFuzzLayout()) {
    for (const CodecCase& c : CodecFuzzCases()) {
      absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(c.spec, layout_);
      FUZZ_REQUIRE(codec.ok(), "every fuzz case is a valid codec");
      codecs_.push_back(*std::move(codec));
    }
    base_.resize(layout_.size());
    for (size_t i = 0; i < base_.size(); ++i) base_[i] = 0.01f * static_cast<float>(i % 97) - 0.5f;
  }

  void Run(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const size_t pick = data[0] % (codecs_.size() + 1);
    const absl::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<float> update(layout_.size());
    if (pick == codecs_.size()) {
      if (ApplyModelDelta(payload, base_, absl::MakeSpan(update)).ok()) {
        FUZZ_REQUIRE(AllFinite(update), "an applied model delta is finite");
      }
      return;
    }
    const Codec& codec = *codecs_[pick];
    if (!codec.Decode(payload, absl::MakeSpan(update)).ok()) return;
    FUZZ_REQUIRE(payload.size() <= codec.MaxEncodedBytes(), "a payload Decode accepts fits MaxEncodedBytes");
    FUZZ_REQUIRE(AllFinite(update), "a decoded update is finite");
  }

 private:
  const ParamLayout layout_;
  std::vector<std::unique_ptr<Codec>> codecs_;
  std::vector<float> base_;
};

}  // namespace
}  // namespace tributary::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tributary::fuzz::CodecFuzzer* fuzzer = new tributary::fuzz::CodecFuzzer();
  fuzzer->Run(data, size);
  return 0;
}
