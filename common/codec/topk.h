// Top-k sparsification: the k values of largest magnitude and their
// indices. Payload: varint k; k varint gaps (index - previous index, the
// first from -1, so every gap is >= 1 and the indices strictly increase);
// then the k values in the job's value format. Everything else decodes to
// zero, which is why topk wants error feedback (on by default).
#ifndef TRIBUTARY_COMMON_CODEC_TOPK_H_
#define TRIBUTARY_COMMON_CODEC_TOPK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/codec/codec.h"
#include "common/codec/values.h"

namespace tributary {

class TopKCodec : public Codec {
 public:
  static constexpr absl::string_view kName = "topk";

  // Sends `k` (1 <= k <= size) values of each update.
  TopKCodec(size_t k, ValueCoding values, size_t size) : k_(k), values_(values), size_(size) {}

  absl::string_view name() const override { return kName; }
  size_t size() const override { return size_; }
  size_t k() const { return k_; }
  std::unique_ptr<Encoder> NewEncoder() const override;
  absl::Status Decode(absl::string_view payload, absl::Span<float> update) const override;
  size_t MaxEncodedBytes() const override;

  // The indices of the k largest magnitudes of `update`, increasing. Ties at
  // the threshold go to the lower indices.
  std::vector<uint32_t> Select(absl::Span<const float> update) const;
  std::string Encode(absl::Span<const float> update) const;

 private:
  const size_t k_;
  const ValueCoding values_;
  const size_t size_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_TOPK_H_
