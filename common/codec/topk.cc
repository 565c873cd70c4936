#include "common/codec/topk.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"

namespace tributary {

namespace {

// NaN sorts as the largest magnitude: selection stays a strict weak order,
// and a broken update is sent as it is for the receiver to refuse.
float Magnitude(float v) { return std::isnan(v) ? std::numeric_limits<float>::infinity() : std::abs(v); }

}  // namespace

std::unique_ptr<Encoder> TopKCodec::NewEncoder() const {
  return std::make_unique<StatelessEncoder<TopKCodec>>(*this);
}

size_t TopKCodec::MaxEncodedBytes() const {
  constexpr size_t kMaxIndexVarintBytes = 5;  // Indices are below 2^32.
  return kMaxVarintBytes + k_ * kMaxIndexVarintBytes + values_.Bytes(k_);
}

std::vector<uint32_t> TopKCodec::Select(absl::Span<const float> update) const {
  const size_t k = std::min(k_, update.size());
  std::vector<uint32_t> indices;
  if (k == 0) return indices;
  // The k-th largest magnitude is the threshold; every value above it is
  // kept, and of those equal to it as many as are needed, lowest first.
  std::vector<float> magnitudes(update.size());
  std::transform(update.begin(), update.end(), magnitudes.begin(), Magnitude);
  std::nth_element(magnitudes.begin(), magnitudes.begin() + (k - 1), magnitudes.end(), std::greater<>());
  const float threshold = magnitudes[k - 1];
  size_t ties = k - std::count_if(magnitudes.begin(), magnitudes.begin() + (k - 1),
                                  [&](float m) { return m > threshold; });
  indices.reserve(k);
  for (size_t i = 0; i < update.size() && indices.size() < k; ++i) {
    const float m = Magnitude(update[i]);
    if (m > threshold || (m == threshold && ties > 0)) {
      if (m == threshold) --ties;
      indices.push_back(static_cast<uint32_t>(i));
    }
  }
  return indices;
}

std::string TopKCodec::Encode(absl::Span<const float> update) const {
  const std::vector<uint32_t> indices = Select(update);
  std::string payload;
  payload.reserve(MaxEncodedBytes());
  AppendVarint(indices.size(), &payload);
  int64_t previous = -1;
  std::vector<float> kept(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    AppendVarint(indices[i] - previous, &payload);
    previous = indices[i];
    kept[i] = update[indices[i]];
  }
  values_.Append(kept, &payload);
  return payload;
}

absl::Status TopKCodec::Decode(absl::string_view payload, absl::Span<float> update) const {
  auto bad = [](auto&&... what) { return absl::InvalidArgumentError(absl::StrCat("codec topk: ", what...)); };
  if (update.size() != size_) return bad("update has ", update.size(), " values, want ", size_);
  PayloadReader in(payload);
  uint64_t k;
  if (!in.ReadVarint(&k)) return bad("truncated count");
  if (k > k_) return bad(k, " values, the job allows ", k_);
  std::vector<uint32_t> indices(k);
  int64_t previous = -1;
  for (uint64_t i = 0; i < k; ++i) {
    uint64_t gap;
    if (!in.ReadVarint(&gap)) return bad("truncated index ", i);
    if (gap == 0) return bad("indices not strictly increasing at ", i);
    if (gap >= size_ - previous) return bad("index ", i, " out of range (", size_, " values)");
    previous += static_cast<int64_t>(gap);
    indices[i] = static_cast<uint32_t>(previous);
  }
  std::vector<float> kept(k);
  if (absl::Status s = values_.Read(in, absl::MakeSpan(kept), "codec topk values"); !s.ok()) return s;
  if (in.remaining() != 0) return bad(in.remaining(), " trailing bytes");
  std::fill(update.begin(), update.end(), 0.0f);
  for (uint64_t i = 0; i < k; ++i) update[indices[i]] = kept[i];
  return absl::OkStatus();
}

}  // namespace tributary
