// The buffer a model's activations (or their gradients) live in: one
// allocation made at construction, carved into tensors that each start on
// a 64-byte boundary. Eigen's vectorised reductions split a row by its
// alignment, so a fixed alignment keeps results bit-identical wherever the
// arena happens to be allocated.
#ifndef TRIBUTARY_COMMON_MODELS_ARENA_H_
#define TRIBUTARY_COMMON_MODELS_ARENA_H_

#include <cstdint>
#include <vector>

#include "Eigen/Core"

namespace tributary {

// Aligned to Eigen's widest packet (64 bytes with AVX-512).
using ArenaVector = std::vector<float, Eigen::aligned_allocator<float>>;

inline constexpr int64_t kArenaAlignFloats = 16;

// `n` floats rounded up so that the next tensor starts aligned.
inline int64_t PaddedFloats(int64_t n) { return (n + kArenaAlignFloats - 1) / kArenaAlignFloats * kArenaAlignFloats; }

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_MODELS_ARENA_H_
