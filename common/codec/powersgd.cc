#include "common/codec/powersgd.h"

#include <algorithm>
#include <random>

#include "Eigen/QR"
#include "absl/strings/str_cat.h"

namespace tributary {

namespace {

// Keeps each matrix's last Q, the warm start of its next power iteration.
class PowerSgdEncoder : public Encoder {
 public:
  explicit PowerSgdEncoder(const PowerSgdCodec& codec) : codec_(codec) {
    // The first Q is Gaussian, seeded per matrix so that runs repeat.
    for (size_t b = 0; b < codec.blocks().size(); ++b) {
      const PowerSgdCodec::Block& block = codec.blocks()[b];
      RowMatrix q(block.cols, block.rank);
      std::mt19937 rng(static_cast<uint32_t>(b + 1));
      std::normal_distribution<float> normal;
      for (int64_t i = 0; i < q.size(); ++i) q.data()[i] = normal(rng);
      q_.push_back(std::move(q));
    }
  }

  std::string Encode(absl::Span<const float> update) override {
    std::string payload;
    payload.reserve(codec_.MaxEncodedBytes());
    AppendVarint(codec_.rank(), &payload);
    for (size_t b = 0; b < codec_.blocks().size(); ++b) {
      const PowerSgdCodec::Block& block = codec_.blocks()[b];
      const auto values = update.subspan(block.offset, block.rows * block.cols);
      if (block.rank == 0) {
        codec_.vector_coding().Append(values, &payload);
        continue;
      }
      const ConstMatrixMap m(values.data(), block.rows, block.cols);
      RowMatrix& q = q_[b];
      p_ = m * q;
      // Householder QR keeps P orthonormal even when M Q is rank-deficient.
      Eigen::HouseholderQR<RowMatrix> qr(p_);
      p_ = qr.householderQ() * RowMatrix::Identity(block.rows, block.rank);
      q.noalias() = m.transpose() * p_;
      codec_.factor_coding().Append(absl::MakeConstSpan(p_.data(), p_.size()), &payload);
      codec_.factor_coding().Append(absl::MakeConstSpan(q.data(), q.size()), &payload);
    }
    return payload;
  }

 private:
  const PowerSgdCodec& codec_;
  std::vector<RowMatrix> q_;  // Per block; empty for blocks sent whole.
  RowMatrix p_;
};

}  // namespace

PowerSgdCodec::PowerSgdCodec(int rank, ValueCoding factors, ValueCoding vectors, const ParamLayout& layout)
    : rank_(rank), factors_(factors), vectors_(vectors) {
  std::string rank_varint;
  AppendVarint(rank, &rank_varint);
  encoded_bytes_ = rank_varint.size();
  for (const TensorSpec& tensor : layout.tensors()) {
    Block block{tensor.offset, 1, tensor.size, 0};
    if (tensor.shape.size() == 2) {
      const int64_t rows = tensor.shape[0], cols = tensor.shape[1];
      const int64_t r = std::min<int64_t>({rank, rows, cols});
      if (r * (rows + cols) < rows * cols) block = Block{tensor.offset, rows, cols, static_cast<int>(r)};
    }
    encoded_bytes_ += block.rank == 0 ? vectors_.Bytes(tensor.size)
                                      : factors_.Bytes(block.rows * block.rank) +
                                            factors_.Bytes(block.cols * block.rank);
    blocks_.push_back(block);
  }
  size_ = layout.size();
}

std::unique_ptr<Encoder> PowerSgdCodec::NewEncoder() const { return std::make_unique<PowerSgdEncoder>(*this); }

absl::Status PowerSgdCodec::Decode(absl::string_view payload, absl::Span<float> update) const {
  auto bad = [](auto&&... what) { return absl::InvalidArgumentError(absl::StrCat("codec powersgd: ", what...)); };
  if (update.size() != size_) return bad("update has ", update.size(), " values, want ", size_);
  PayloadReader in(payload);
  uint64_t rank;
  if (!in.ReadVarint(&rank)) return bad("truncated rank");
  if (rank != static_cast<uint64_t>(rank_)) return bad("rank ", rank, ", the job uses ", rank_);
  std::vector<float> p, q;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const Block& block = blocks_[b];
    const auto values = update.subspan(block.offset, block.rows * block.cols);
    if (block.rank == 0) {
      if (absl::Status s = vectors_.Read(in, values, absl::StrCat("codec powersgd tensor ", b)); !s.ok()) {
        return s;
      }
      continue;
    }
    p.resize(block.rows * block.rank);
    q.resize(block.cols * block.rank);
    if (absl::Status s = factors_.Read(in, absl::MakeSpan(p), absl::StrCat("codec powersgd P of tensor ", b));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = factors_.Read(in, absl::MakeSpan(q), absl::StrCat("codec powersgd Q of tensor ", b));
        !s.ok()) {
      return s;
    }
    MatrixMap(values.data(), block.rows, block.cols).noalias() =
        ConstMatrixMap(p.data(), block.rows, block.rank) * ConstMatrixMap(q.data(), block.cols, block.rank).transpose();
  }
  if (in.remaining() != 0) return bad(in.remaining(), " trailing bytes");
  // Finite factors can still multiply out to Inf.
  return CheckFinite(update, "codec powersgd");
}

}  // namespace tributary
