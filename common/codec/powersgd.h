// PowerSGD (Vogels et al. 2019): each weight matrix M (rows x cols) of the
// update travels as a rank-r product P Q^T, found by one step of power
// iteration from the previous update's Q (warm start):
//   P = orthonormalize(M Q);  Q = M^T P;  M ~ P Q^T.
// It is exact when rank(M) <= r. Tensors that factoring would not shrink
// (biases, LayerNorm gains, small matrices) are sent whole.
//
// Payload: varint rank; then, in layout order, for a factored matrix P
// (rows x r) and Q (cols x r), row-major, in the factor coding, and for a
// whole tensor its values in the vector coding. The receiver knows the
// layout, so every length is implied; nothing else is sent.
#ifndef TRIBUTARY_COMMON_CODEC_POWERSGD_H_
#define TRIBUTARY_COMMON_CODEC_POWERSGD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/codec/codec.h"
#include "common/codec/values.h"
#include "common/params.h"

namespace tributary {

class PowerSgdCodec : public Codec {
 public:
  static constexpr absl::string_view kName = "powersgd";

  // A run of the update: a matrix sent as factors of `rank`, or (rank 0)
  // values sent whole.
  struct Block {
    int64_t offset = 0;
    int64_t rows = 0, cols = 0;
    int rank = 0;
  };

  PowerSgdCodec(int rank, ValueCoding factors, ValueCoding vectors, const ParamLayout& layout);

  absl::string_view name() const override { return kName; }
  size_t size() const override { return size_; }
  std::unique_ptr<Encoder> NewEncoder() const override;
  absl::Status Decode(absl::string_view payload, absl::Span<float> update) const override;
  size_t MaxEncodedBytes() const override { return encoded_bytes_; }

  int rank() const { return rank_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  const ValueCoding& factor_coding() const { return factors_; }
  const ValueCoding& vector_coding() const { return vectors_; }

 private:
  const int rank_;
  const ValueCoding factors_, vectors_;
  std::vector<Block> blocks_;
  size_t size_ = 0;
  size_t encoded_bytes_ = 0;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_CODEC_POWERSGD_H_
