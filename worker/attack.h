// Testing only: the ways a Byzantine worker corrupts its update, so tests can
// check that robust aggregation withstands them (--test_attack).
#ifndef TRIBUTARY_WORKER_ATTACK_H_
#define TRIBUTARY_WORKER_ATTACK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tributary::worker {

struct Attack {
  enum class Kind {
    kNone,
    kSignFlip,  // Sends -u: gradient ascent.
    kScale100,  // Sends 100 u: drowns the others in a mean.
    // "A little is enough" (Baruch et al. 2019): sends mean - z * stddev per
    // coordinate, small enough to pass as honest yet biased the same way
    // every time. The attacker estimates the honest mean and spread from its
    // own recent updates (an exponential moving average over them).
    kAlie,
  };
  Kind kind = Kind::kNone;
  float z = 1.0f;  // ALIE only.
};

// "", "none", "sign_flip", "scale100", "alie" or "alie:Z" (Z > 0; default 1);
// INVALID_ARGUMENT otherwise.
absl::StatusOr<Attack> ParseAttack(absl::string_view name);

// Corrupts a worker's successive updates in place.
class Attacker {
 public:
  explicit Attacker(Attack attack) : attack_(attack) {}

  void Corrupt(absl::Span<float> update);

 private:
  Attack attack_;
  // ALIE: the moving mean and variance of the honest updates so far.
  std::vector<float> mean_, variance_;
};

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_ATTACK_H_
