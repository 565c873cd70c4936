#include "common/codec/values.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/codec/codec.h"
#include "common/codec/fp16.h"
#include "common/codec/int4.h"
#include "common/codec/int8.h"
#include "common/parallel.h"

namespace tributary {

// The build targets little-endian machines only (x86-64, aarch64), so
// in-memory floats and halves are already their wire form.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire format is little-endian");

absl::string_view FormatName(ValueFormat format) {
  switch (format) {
    case tributary::v1::CodecSpec::FP16:
      return "fp16";
    case tributary::v1::CodecSpec::INT8:
      return "int8";
    case tributary::v1::CodecSpec::INT4:
      return "int4";
    default:
      return "fp32";
  }
}

bool HasFusedPath(ValueFormat format) {
  return format == tributary::v1::CodecSpec::FP32 || format == tributary::v1::CodecSpec::INT8;
}

bool IsBlockwise(ValueFormat format) {
  return format == tributary::v1::CodecSpec::INT8 || format == tributary::v1::CodecSpec::INT4;
}

size_t ValueCoding::Bytes(size_t n) const {
  switch (format) {
    case tributary::v1::CodecSpec::FP16:
      return n * sizeof(uint16_t);
    case tributary::v1::CodecSpec::INT8:
      return Int8Bytes(n, block_size);
    case tributary::v1::CodecSpec::INT4:
      return Int4Bytes(n, block_size);
    default:
      return n * sizeof(float);
  }
}

void ValueCoding::Append(absl::Span<const float> values, std::string* out) const {
  const size_t start = out->size();
  switch (format) {
    case tributary::v1::CodecSpec::FP16:
      out->resize(start + Bytes(values.size()));
      FloatsToHalves(values, out->data() + start);
      return;
    case tributary::v1::CodecSpec::INT8:
      AppendInt8Blocks(values, block_size, out);
      return;
    case tributary::v1::CodecSpec::INT4:
      AppendInt4Blocks(values, block_size, out);
      return;
    default:
      out->append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  }
}

absl::Status ValueCoding::Read(PayloadReader& in, absl::Span<float> values, absl::string_view what) const {
  if (IsBlockwise(format)) {
    absl::Status s = format == tributary::v1::CodecSpec::INT8 ? ReadInt8Blocks(in, block_size, values)
                                                              : ReadInt4Blocks(in, block_size, values);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
    // int8 checks each block's largest value itself.
    if (format == tributary::v1::CodecSpec::INT8) return absl::OkStatus();
  } else {
    absl::string_view bytes;
    if (!in.Take(Bytes(values.size()), &bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": payload too short for ", values.size(), " ",
                                                     FormatName(format), " values"));
    }
    if (format == tributary::v1::CodecSpec::FP16) {
      HalvesToFloats(bytes.data(), values);
    } else if (!values.empty()) {
      // An empty span may be null, and memcpy's pointers must never be.
      std::memcpy(values.data(), bytes.data(), bytes.size());
    }
  }
  // Also catches a blockwise scale so large that 127 or 7 of it overflows.
  return CheckFinite(values, what);
}

absl::StatusOr<double> ValueCoding::Inspect(PayloadReader& in, size_t n, absl::string_view what) const {
  if (format == tributary::v1::CodecSpec::INT8) {
    absl::StatusOr<double> sum_squares = InspectInt8Blocks(in, block_size, n);
    if (!sum_squares.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", sum_squares.status().message()));
    return sum_squares;
  }
  if (format == tributary::v1::CodecSpec::FP32) {
    absl::string_view bytes;
    if (!in.Take(Bytes(n), &bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": payload too short for ", n, " fp32 values"));
    }
    double sum_squares = 0;
    int64_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, bytes.data() + i * sizeof(float), sizeof(float));
      bad += !std::isfinite(v);
      sum_squares += static_cast<double>(v) * v;
    }
    if (bad > 0) return absl::InvalidArgumentError(absl::StrCat(what, ": ", bad, " NaN or Inf values"));
    return sum_squares;
  }
  return absl::InternalError(absl::StrCat(what, ": no fused path for ", FormatName(format)));
}

void ValueCoding::Accumulate(PayloadReader& in, float weight, absl::Span<float> acc, int threads) const {
  const size_t n = acc.size();
  if (format == tributary::v1::CodecSpec::INT8) {
    AccumulateInt8Blocks(in, block_size, weight, acc, threads);
    return;
  }
  if (format == tributary::v1::CodecSpec::FP32) {
    absl::string_view bytes;
    if (!in.Take(Bytes(n), &bytes)) return;  // Inspected: cannot happen.
    ParallelFor(threads, static_cast<int64_t>(n), 2, [&](int64_t begin, int64_t end) {
      float* out = acc.data();
      for (int64_t i = begin; i < end; ++i) {
        float v;
        std::memcpy(&v, bytes.data() + i * sizeof(float), sizeof(float));
        out[i] += weight * v;
      }
    });
  }
}

}  // namespace tributary
