#include "common/codec/codec.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/codec/dense.h"
#include "common/codec/error_feedback.h"
#include "common/codec/powersgd.h"
#include "common/codec/topk.h"
#include "common/parallel.h"

namespace tributary {

namespace {

using tributary::v1::CodecSpec;

constexpr int kMaxBlockSize = 1 << 20;
constexpr int kMaxRank = 1024;

// The format of a dense codec's values, or nullopt when `name` is no dense codec.
std::optional<ValueFormat> DenseFormat(absl::string_view name) {
  if (name == "none") return CodecSpec::FP32;
  if (name == "fp16") return CodecSpec::FP16;
  if (name == "int8") return CodecSpec::INT8;
  if (name == "int4") return CodecSpec::INT4;
  return std::nullopt;
}

bool UsesBlockwise(const CodecSpec& spec) {
  const bool topk = spec.name() == TopKCodec::kName, powersgd = spec.name() == PowerSgdCodec::kName;
  const std::optional<ValueFormat> dense = DenseFormat(spec.name());
  return (dense && IsBlockwise(*dense)) || ((topk || powersgd) && IsBlockwise(spec.values())) ||
         (powersgd && IsBlockwise(spec.vectors()));
}

}  // namespace

std::optional<CodecSpecError> CheckCodecSpec(const CodecSpec& spec) {
  const std::string& name = spec.name();
  const bool topk = name == TopKCodec::kName, powersgd = name == PowerSgdCodec::kName;
  if (!DenseFormat(name) && !topk && !powersgd) {
    return CodecSpecError{"name", absl::StrCat("unknown codec \"", name,
                                               "\" (known: none, fp16, int8, int4, topk, powersgd)")};
  }
  auto only_for = [&](const char* field, absl::string_view who) {
    return CodecSpecError{field, absl::StrCat("only ", who, " uses it; this job's codec is ", name)};
  };
  if (spec.has_block_size() && !UsesBlockwise(spec)) {
    return only_for("block_size", "a blockwise format (int8, int4)");
  }
  if ((spec.has_topk_fraction() || spec.has_topk_count()) && !topk) {
    return only_for(spec.has_topk_count() ? "topk_count" : "topk_fraction", "topk");
  }
  if (spec.has_values() && !topk && !powersgd) return only_for("values", "topk or powersgd");
  if ((spec.has_rank() || spec.has_vectors()) && !powersgd) {
    return only_for(spec.has_rank() ? "rank" : "vectors", "powersgd");
  }
  if (spec.block_size() < 1 || spec.block_size() > kMaxBlockSize) {
    return CodecSpecError{"block_size",
                          absl::StrCat("must be in [1, ", kMaxBlockSize, "], got ", spec.block_size())};
  }
  if (!(spec.topk_fraction() > 0 && spec.topk_fraction() <= 1)) {
    return CodecSpecError{"topk_fraction", absl::StrCat("must be in (0, 1], got ", spec.topk_fraction())};
  }
  if (spec.topk_count() < 0) {
    return CodecSpecError{"topk_count", absl::StrCat("must not be negative, got ", spec.topk_count())};
  }
  if (spec.rank() < 1 || spec.rank() > kMaxRank) {
    return CodecSpecError{"rank", absl::StrCat("must be in [1, ", kMaxRank, "], got ", spec.rank())};
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Codec>> CreateCodec(const CodecSpec& spec, const ParamLayout& layout) {
  if (std::optional<CodecSpecError> error = CheckCodecSpec(spec)) {
    return absl::InvalidArgumentError(absl::StrCat("codec.", error->field, ": ", error->why));
  }
  const size_t n = layout.size();
  const ValueCoding values{spec.values(), spec.block_size()};
  if (std::optional<ValueFormat> dense = DenseFormat(spec.name())) {
    return std::make_unique<DenseCodec>(ValueCoding{*dense, spec.block_size()}, n);
  }
  if (spec.name() == TopKCodec::kName) {
    if (n > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError("codec.name: topk needs a model of fewer than 2^32 values");
    }
    const size_t k = spec.topk_count() > 0
                         ? static_cast<size_t>(spec.topk_count())
                         : std::max<size_t>(1, static_cast<size_t>(std::ceil(spec.topk_fraction() * n)));
    return std::make_unique<TopKCodec>(std::min(k, n), values, n);
  }
  const ValueCoding vectors{spec.vectors(), spec.block_size()};
  return std::make_unique<PowerSgdCodec>(spec.rank(), values, vectors, layout);
}

bool ErrorFeedbackOn(const CodecSpec& spec) {
  if (spec.has_error_feedback()) return spec.error_feedback();
  return spec.name() == TopKCodec::kName || spec.name() == PowerSgdCodec::kName;
}

std::unique_ptr<Encoder> NewWorkerEncoder(const Codec& codec, const CodecSpec& spec) {
  std::unique_ptr<Encoder> encoder = codec.NewEncoder();
  if (!ErrorFeedbackOn(spec)) return encoder;
  return std::make_unique<ErrorFeedbackEncoder>(codec, std::move(encoder));
}

namespace {

// The decoded copy a codec without a fused path uses, one per thread: a
// coordinator decodes on one thread, so this is one model-sized buffer,
// allocated once.
std::vector<float>& DecodedCopy(size_t n) {
  thread_local std::vector<float> decoded;
  decoded.resize(n);
  return decoded;
}

}  // namespace

absl::StatusOr<double> Codec::Inspect(absl::string_view payload) const {
  std::vector<float>& decoded = DecodedCopy(size());
  if (absl::Status s = Decode(payload, absl::MakeSpan(decoded)); !s.ok()) return s;
  return std::sqrt(SumOfSquares(decoded));
}

void Codec::DecodeAccumulate(absl::string_view payload, float weight, absl::Span<float> acc, int threads) const {
  std::vector<float>& decoded = DecodedCopy(size());
  if (!Decode(payload, absl::MakeSpan(decoded)).ok()) return;  // Inspected: cannot happen.
  AddScaled(weight, decoded, acc, threads);
}

double SumOfSquares(absl::Span<const float> values) {
  double sum = 0;
  for (float v : values) sum += static_cast<double>(v) * v;
  return sum;
}

void AddScaled(float weight, absl::Span<const float> values, absl::Span<float> acc, int threads) {
  ParallelFor(threads, static_cast<int64_t>(acc.size()), 2, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) acc[i] += weight * values[i];
  });
}

absl::Status CheckFinite(absl::Span<const float> values, absl::string_view what) {
  int64_t bad = 0;
  for (float v : values) bad += !std::isfinite(v);
  if (bad == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", bad, " NaN or Inf values"));
}

}  // namespace tributary
