// Little helpers for codec payloads: LEB128 varints and a bounds-checked
// reader. Every read either succeeds inside the payload or fails; nothing
// here can step past the end.
#ifndef TRIBUTARY_COMMON_CODEC_BYTES_H_
#define TRIBUTARY_COMMON_CODEC_BYTES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tributary {

inline void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline constexpr size_t kMaxVarintBytes = 10;

class PayloadReader {
 public:
  explicit PayloadReader(absl::string_view payload) : rest_(payload) {}

  // The next `n` bytes, or false (and nothing consumed) when fewer are left.
  bool Take(size_t n, absl::string_view* bytes) {
    if (n > rest_.size()) return false;
    *bytes = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }

  // False on a truncated varint or one that overflows 64 bits.
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (size_t i = 0; i < kMaxVarintBytes && i < rest_.size(); ++i) {
      const uint64_t byte = static_cast<uint8_t>(rest_[i]);
      if (i == kMaxVarintBytes - 1 && byte > 1) return false;
      result |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        rest_.remove_prefix(i + 1);
        *v = result;
        return true;
      }
    }
    return false;
  }

  size_t remaining() const { return rest_.size(); }

 private:
  absl::string_view rest_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_BYTES_H_
