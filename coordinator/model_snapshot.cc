#include "coordinator/model_snapshot.h"

namespace tributary::coordinator {

ModelSnapshot::ModelSnapshot(uint64_t version, absl::Span<const float> params)
    : version(version), bytes(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(float)) {}

const Sha256Digest& ModelSnapshot::sha256() const {
  absl::call_once(sha256_once_, [this] { sha256_ = Sha256(bytes); });
  return sha256_;
}

}  // namespace tributary::coordinator
