// The dense codecs and the factory that picks a codec from a job.
#include "common/codec/dense.h"

#include <cmath>
#include <cstring>
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

TEST(DenseCodecTest, Fp16Int8AndInt4ShrinkAndStayClose) {
  std::vector<float> update(1001);
  for (size_t i = 0; i < update.size(); ++i) update[i] = std::sin(0.1f * i) * 1e-3f;
  struct Case {
    std::string name;
    size_t bytes;
    float bound;
  };
  // int8, int4: 4 blocks of 256 (the last partial), one fp32 scale each.
  for (const Case& c : {Case{"fp16", 2002, 1e-3f / 2048}, Case{"int8", 1001 + 4 * 4, 1e-3f / 254},
                        Case{"int4", 501 + 4 * 4, 1e-3f / 14}}) {
    const std::unique_ptr<Codec> codec = Create(c.name, update.size());
    EXPECT_EQ(codec->name(), c.name);
    const std::string payload = codec->NewEncoder()->Encode(update);
    EXPECT_EQ(payload.size(), c.bytes) << c.name;
    EXPECT_EQ(payload.size(), codec->MaxEncodedBytes()) << c.name;
    const std::vector<float> decoded = Decode(*codec, payload);
    for (size_t i = 0; i < update.size(); ++i) EXPECT_NEAR(decoded[i], update[i], c.bound * 1.001f) << c.name;
  }
}

TEST(DenseCodecTest, RefusesWrongLengthAndNonFiniteValues) {
  for (const char* name : {"none", "fp16", "int8", "int4"}) {
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

// Inspect and DecodeAccumulate, the aggregator's way in (fused for fp32 and
// int8): the norm of what Decode gives, and acc + w x what Decode gives,
// on one thread or two; the same refusals as Decode. topk stands for the
// codecs without a fused path (Codec's own decoded copy).
TEST(DenseCodecTest, InspectAndDecodeAccumulateAgreeWithDecode) {
  const size_t n = 70001;  // Blocks of 256, the last partial; enough for ParallelFor to split.
  std::vector<float> update(n), acc0(n);
  for (size_t i = 0; i < n; ++i) {
    update[i] = std::sin(0.37f * i) * (1 + i % 7);
    acc0[i] = std::cos(0.11f * i);
  }
  for (const char* name : {"none", "fp16", "int8", "int4", "topk"}) {
    const std::unique_ptr<Codec> codec = Create(name, n);
    const std::string payload = codec->NewEncoder()->Encode(update);
    const std::vector<float> decoded = Decode(*codec, payload);
    double sum_squares = 0;
    for (float v : decoded) sum_squares += static_cast<double>(v) * v;
    const absl::StatusOr<double> norm = codec->Inspect(payload);
    ASSERT_TRUE(norm.ok()) << name << ": " << norm.status();
    EXPECT_NEAR(*norm, std::sqrt(sum_squares), 1e-6 * std::sqrt(sum_squares)) << name;
    for (int threads : {1, 2}) {
      std::vector<float> acc = acc0;
      codec->DecodeAccumulate(payload, 0.75f, absl::MakeSpan(acc), threads);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(acc[i], acc0[i] + 0.75f * decoded[i], 1e-5f * (1 + std::abs(acc[i]))) << name << " at " << i;
      }
    }
  }
}

TEST(DenseCodecTest, InspectRefusesWhatDecodeRefuses) {
  for (const char* name : {"none", "fp16", "int8", "int4"}) {
    const std::unique_ptr<Codec> codec = Create(name, 3);
    const std::string good = codec->NewEncoder()->Encode(std::vector<float>{1, 2, 3});
    EXPECT_TRUE(absl::IsInvalidArgument(codec->Inspect(good.substr(1)).status())) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(codec->Inspect(good + "x").status())) << name;
    const std::vector<float> poisoned = {1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
    const absl::Status s = codec->Inspect(codec->NewEncoder()->Encode(poisoned)).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << name;
    EXPECT_NE(s.message().find("NaN or Inf"), absl::string_view::npos) << s;
  }
  // int8's level -128, which the encoder never writes, and a negative scale.
  const std::unique_ptr<Codec> int8 = Create("int8", 3);
  std::string payload = int8->NewEncoder()->Encode(std::vector<float>{1, 2, 3});
  payload[4] = static_cast<char>(-128);
  EXPECT_TRUE(absl::IsInvalidArgument(int8->Inspect(payload).status()));
  payload = int8->NewEncoder()->Encode(std::vector<float>{1, 2, 3});
  const float negative = -1.0f;
  std::memcpy(payload.data(), &negative, sizeof(float));
  EXPECT_TRUE(absl::IsInvalidArgument(int8->Inspect(payload).status()));
  // A scale so large that 127 of it overflows decodes to Inf: refused too.
  payload = int8->NewEncoder()->Encode(std::vector<float>{1, 2, 3});
  const float huge = std::numeric_limits<float>::max();
  std::memcpy(payload.data(), &huge, sizeof(float));
  EXPECT_TRUE(absl::IsInvalidArgument(int8->Inspect(payload).status()));
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
  EXPECT_EQ(error_field("name: 'int4' block_size: 0"), "block_size");
  EXPECT_EQ(error_field("name: 'topk' topk_fraction: 1.5"), "topk_fraction");
  EXPECT_EQ(error_field("name: 'topk' topk_count: -1"), "topk_count");
  EXPECT_EQ(error_field("name: 'powersgd' rank: 0"), "rank");
  // A field the codec would ignore is a mistake in the job, not a no-op.
  EXPECT_EQ(error_field("name: 'fp16' block_size: 64"), "block_size");
  EXPECT_EQ(error_field("name: 'int8' rank: 2"), "rank");
  EXPECT_EQ(error_field("name: 'int4' values: INT4"), "values");
  EXPECT_EQ(error_field("name: 'powersgd' topk_fraction: 0.1"), "topk_fraction");
  EXPECT_EQ(error_field("name: 'none' values: FP16"), "values");
  EXPECT_EQ(error_field("name: 'topk' vectors: INT8"), "vectors");
  EXPECT_EQ(error_field("name: 'topk' values: FP16 block_size: 64"), "block_size");
  EXPECT_EQ(error_field("name: 'topk' values: INT8 block_size: 64 topk_count: 5"), "");
  EXPECT_EQ(error_field("name: 'powersgd' vectors: INT8 block_size: 64 rank: 2"), "");
  EXPECT_EQ(error_field("name: 'int4' block_size: 7"), "");
  EXPECT_EQ(error_field("name: 'topk' values: INT4 block_size: 64 topk_count: 5"), "");
  EXPECT_EQ(error_field("name: 'powersgd' values: INT4 vectors: INT4 block_size: 32"), "");
}

TEST(CodecFactoryTest, UnknownNamesListEveryCodec) {
  CodecSpec spec;
  spec.set_name("int2");
  const std::optional<CodecSpecError> error = CheckCodecSpec(spec);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->why, "unknown codec \"int2\" (known: none, fp16, int8, int4, topk, powersgd)");
}

TEST(CodecFactoryTest, ErrorFeedbackDefaultsOnForTheSparseCodecsOnly) {
  CodecSpec spec;
  for (const auto& [name, on] : {std::pair<std::string, bool>{"none", false}, {"fp16", false}, {"int8", false},
                                 {"int4", false}, {"topk", true}, {"powersgd", true}}) {
    spec.set_name(name);
    EXPECT_EQ(ErrorFeedbackOn(spec), on) << name;
  }
  spec.set_error_feedback(false);
  EXPECT_FALSE(ErrorFeedbackOn(spec));
  for (const char* name : {"int8", "int4"}) {
    spec.set_name(name);
    spec.set_error_feedback(true);
    EXPECT_TRUE(ErrorFeedbackOn(spec)) << name;
    EXPECT_FALSE(CheckCodecSpec(spec).has_value()) << name;
  }
}

// Streaming DiLoCo's case: outer gradients in int4 with error feedback,
// whose worker encoder carries each update's rounding into the next.
TEST(CodecFactoryTest, Int4WithErrorFeedbackSendsWhatItLostLater) {
  CodecSpec spec;
  spec.set_name("int4");
  spec.set_error_feedback(true);
  const std::unique_ptr<Codec> codec = *CreateCodec(spec, VectorLayout(2));
  const std::unique_ptr<Encoder> encoder = NewWorkerEncoder(*codec, spec);
  // Absmax 7: levels are whole numbers, so 0.4 rounds to 0 each time alone.
  const std::vector<float> update = {7.0f, 0.4f};
  float sent = 0;
  for (int step = 0; step < 5; ++step) sent += Decode(*codec, encoder->Encode(update))[1];
  // The gap to the true sum is the residual, at most half a level; without
  // feedback nothing of the 0.4 would ever arrive.
  EXPECT_NEAR(sent, 5 * 0.4f, 0.5f);
  EXPECT_EQ(Decode(*codec, codec->NewEncoder()->Encode(update))[1], 0.0f);
}

}  // namespace
}  // namespace tributary
