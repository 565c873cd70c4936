// The dense codecs and the factory that picks a codec from a job.
#include "common/codec/dense.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

using tributary::v1::CodecSpec;

ParamLayout VectorLayout(int64_t n) {
  ParamLayout layout;
  layout.Add("v", {n});
  return layout;
}

std::unique_ptr<Codec> Create(const std::string& text_name, int64_t n) {
  CodecSpec spec;
  spec.set_name(text_name);
  absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(spec, VectorLayout(n));
  EXPECT_TRUE(codec.ok()) << codec.status();
  return *std::move(codec);
}

std::vector<float> Decode(const Codec& codec, const std::string& payload) {
  std::vector<float> decoded(codec.size());
  const absl::Status s = codec.Decode(payload, absl::MakeSpan(decoded));
  EXPECT_TRUE(s.ok()) << s;
  return decoded;
}

TEST(DenseCodecTest, NoneIsExactAndFourBytesAValue) {
  const std::unique_ptr<Codec> codec = Create("none", 4);
  EXPECT_EQ(codec->name(), "none");
  const std::vector<float> update = {1.5f, -2.25f, 0.0f, 3e-8f};
  const std::string payload = codec->NewEncoder()->Encode(update);
  EXPECT_EQ(payload.size(), 16u);
  EXPECT_EQ(payload.size(), codec->MaxEncodedBytes());
  EXPECT_EQ(Decode(*codec, payload), update);
}

TEST(DenseCodecTest, Fp16AndInt8ShrinkAndStayClose) {
  std::vector<float> update(1000);
  for (size_t i = 0; i < update.size(); ++i) update[i] = std::sin(0.1f * i) * 1e-3f;
  for (const auto& [name, bytes] : {std::pair<std::string, size_t>{"fp16", 2000}, {"int8", 1000 + 4 * 4}}) {
    const std::unique_ptr<Codec> codec = Create(name, update.size());
    EXPECT_EQ(codec->name(), name);
    const std::string payload = codec->NewEncoder()->Encode(update);
    EXPECT_EQ(payload.size(), bytes) << name;  // int8: 4 blocks of 256, one fp32 scale each.
    const std::vector<float> decoded = Decode(*codec, payload);
    for (size_t i = 0; i < update.size(); ++i) EXPECT_NEAR(decoded[i], update[i], 1e-3f / 254 * 1.001f);
  }
}

TEST(DenseCodecTest, RefusesWrongLengthAndNonFiniteValues) {
  for (const char* name : {"none", "fp16", "int8"}) {
    const std::unique_ptr<Codec> codec = Create(name, 3);
    std::vector<float> decoded(3);
    const std::string good = codec->NewEncoder()->Encode(std::vector<float>{1, 2, 3});
    EXPECT_TRUE(absl::IsInvalidArgument(codec->Decode(good.substr(1), absl::MakeSpan(decoded)))) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(codec->Decode(good + "x", absl::MakeSpan(decoded)))) << name;
    const std::vector<float> poisoned = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
    const absl::Status s = codec->Decode(codec->NewEncoder()->Encode(poisoned), absl::MakeSpan(decoded));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << name;
    EXPECT_NE(s.message().find("NaN or Inf"), absl::string_view::npos) << s;
  }
}

TEST(CodecFactoryTest, ErrorsNameTheField) {
  auto error_field = [](const std::string& text) -> std::string {
    CodecSpec spec;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
    const std::optional<CodecSpecError> error = CheckCodecSpec(spec);
    if (!error) return "";
    const absl::StatusOr<std::unique_ptr<Codec>> codec = CreateCodec(spec, VectorLayout(10));
    EXPECT_FALSE(codec.ok());
    EXPECT_NE(codec.status().message().find(absl::StrCat("codec.", error->field)), absl::string_view::npos);
    return error->field;
  };
  EXPECT_EQ(error_field("name: 'zstd'"), "name");
  EXPECT_EQ(error_field("name: 'int8' block_size: 0"), "block_size");
  EXPECT_EQ(error_field("name: 'topk' topk_fraction: 1.5"), "topk_fraction");
  EXPECT_EQ(error_field("name: 'topk' topk_count: -1"), "topk_count");
  EXPECT_EQ(error_field("name: 'powersgd' rank: 0"), "rank");
  // A field the codec would ignore is a mistake in the job, not a no-op.
  EXPECT_EQ(error_field("name: 'fp16' block_size: 64"), "block_size");
  EXPECT_EQ(error_field("name: 'int8' rank: 2"), "rank");
  EXPECT_EQ(error_field("name: 'powersgd' topk_fraction: 0.1"), "topk_fraction");
  EXPECT_EQ(error_field("name: 'none' values: FP16"), "values");
  EXPECT_EQ(error_field("name: 'topk' vectors: INT8"), "vectors");
  EXPECT_EQ(error_field("name: 'topk' values: FP16 block_size: 64"), "block_size");
  EXPECT_EQ(error_field("name: 'topk' values: INT8 block_size: 64 topk_count: 5"), "");
  EXPECT_EQ(error_field("name: 'powersgd' vectors: INT8 block_size: 64 rank: 2"), "");
}

TEST(CodecFactoryTest, ErrorFeedbackDefaultsOnForTheSparseCodecsOnly) {
  CodecSpec spec;
  for (const auto& [name, on] : {std::pair<std::string, bool>{"none", false}, {"fp16", false}, {"int8", false},
                                 {"topk", true}, {"powersgd", true}}) {
    spec.set_name(name);
    EXPECT_EQ(ErrorFeedbackOn(spec), on) << name;
  }
  spec.set_error_feedback(false);
  EXPECT_FALSE(ErrorFeedbackOn(spec));
  spec.set_name("int8");
  spec.set_error_feedback(true);
  EXPECT_TRUE(ErrorFeedbackOn(spec));
}

}  // namespace
}  // namespace tributary
