#include "common/codec/values.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/codec/codec.h"
#include "common/codec/fp16.h"
#include "common/codec/int4.h"
#include "common/codec/int8.h"

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

}  // namespace tributary
