// Testing only: the ways a Byzantine worker corrupts its update, so tests can
// check that robust aggregation withstands them (--test_attack).
#ifndef TRIBUTARY_WORKER_ATTACK_H_
#define TRIBUTARY_WORKER_ATTACK_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tributary::worker {

enum class Attack {
  kNone,
  kSignFlip,  // Sends -u: gradient ascent.
  kScale100,  // Sends 100 u: drowns the others in a mean.
};

// "", "none", "sign_flip" or "scale100"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Attack> ParseAttack(absl::string_view name);

void ApplyAttack(Attack attack, absl::Span<float> update);

}  // namespace tributary::worker

#endif  // TRIBUTARY_WORKER_ATTACK_H_
