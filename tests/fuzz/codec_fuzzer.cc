// Fuzzes update decoding: Codec::Decode of every codec (codec_cases.h) and
// the worker's ApplyModelDelta, on payloads straight from the input. Beyond
// the sanitizers' checks, an accepted payload must keep Decode's contract:
// no larger than MaxEncodedBytes (receivers refuse larger uploads unread),
// and every decoded value finite. The coordinator's way in must agree with
// it: Inspect accepts exactly what Decode accepts, with the decoded
// update's norm, and DecodeAccumulate into zeros gives the decoded update.
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
    const bool decoded = codec.Decode(payload, absl::MakeSpan(update)).ok();
    const absl::StatusOr<double> norm = codec.Inspect(payload);
    FUZZ_REQUIRE(norm.ok() == decoded, "Inspect accepts exactly what Decode accepts");
    if (!decoded) return;
    FUZZ_REQUIRE(payload.size() <= codec.MaxEncodedBytes(), "a payload Decode accepts fits MaxEncodedBytes");
    FUZZ_REQUIRE(AllFinite(update), "a decoded update is finite");
    double sum_squares = 0;
    for (float v : update) sum_squares += static_cast<double>(v) * v;
    FUZZ_REQUIRE(std::isfinite(*norm) && std::abs(*norm - std::sqrt(sum_squares)) <= 1e-5 * (1 + *norm),
                 "Inspect's norm is the decoded update's");
    std::vector<float> sum(update.size(), 0.0f);
    codec.DecodeAccumulate(payload, 1.0f, absl::MakeSpan(sum), 2);
    FUZZ_REQUIRE(sum == update, "DecodeAccumulate into zeros gives the decoded update");
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
