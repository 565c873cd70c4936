#include "worker/attack.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tributary::worker {

absl::StatusOr<Attack> ParseAttack(absl::string_view name) {
  if (name.empty() || name == "none") return Attack::kNone;
  if (name == "sign_flip") return Attack::kSignFlip;
  if (name == "scale100") return Attack::kScale100;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", name, "\" is not an attack (none, sign_flip, scale100)"));
}

void ApplyAttack(Attack attack, absl::Span<float> update) {
  const float factor = attack == Attack::kSignFlip ? -1.0f : attack == Attack::kScale100 ? 100.0f : 1.0f;
  if (factor == 1.0f) return;
  for (float& u : update) u *= factor;
}

}  // namespace tributary::worker
