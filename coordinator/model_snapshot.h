// One model version as sent to workers: its fp32 weights, little-endian,
// frozen when the snapshot is made. The SHA-256 of the bytes is computed on
// first use, by whichever caller needs it first, outside the run's locks:
// once per version however many workers ask (the run asks as it makes the
// snapshot, on the thread that applies updates).
//
// Immutable once made: share it as std::shared_ptr<const ModelSnapshot>.
// Thread-safe.
#ifndef TRIBUTARY_COORDINATOR_MODEL_SNAPSHOT_H_
#define TRIBUTARY_COORDINATOR_MODEL_SNAPSHOT_H_

#include <cstdint>
#include <string>

#include "absl/base/call_once.h"
#include "absl/types/span.h"
#include "common/sha256.h"

namespace tributary::coordinator {

class ModelSnapshot {
 public:
  // Copies `params`, the weights of `version`.
  ModelSnapshot(uint64_t version, absl::Span<const float> params);
  ModelSnapshot(const ModelSnapshot&) = delete;
  ModelSnapshot& operator=(const ModelSnapshot&) = delete;

  absl::Span<const float> params() const {
    return absl::Span<const float>(reinterpret_cast<const float*>(bytes.data()), bytes.size() / sizeof(float));
  }

  // SHA-256 of `bytes`. The first call hashes them (concurrent first calls
  // wait for that one); later calls return at once.
  const Sha256Digest& sha256() const;

  const uint64_t version;
  const std::string bytes;

 private:
  mutable absl::once_flag sha256_once_;
  mutable Sha256Digest sha256_{};
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_MODEL_SNAPSHOT_H_
