#include "worker/attack.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tributary::worker {
namespace {

// The weight of the newest update in ALIE's moving statistics.
constexpr float kAlieDecay = 0.2f;

}  // namespace

absl::StatusOr<Attack> ParseAttack(absl::string_view name) {
  Attack attack;
  if (name.empty() || name == "none") return attack;
  if (name == "sign_flip") {
    attack.kind = Attack::Kind::kSignFlip;
  } else if (name == "scale100") {
    attack.kind = Attack::Kind::kScale100;
  } else if (name == "alie") {
    attack.kind = Attack::Kind::kAlie;
  } else if (absl::ConsumePrefix(&name, "alie:")) {
    attack.kind = Attack::Kind::kAlie;
    if (!absl::SimpleAtof(name, &attack.z) || !(attack.z > 0) || !std::isfinite(attack.z)) {
      return absl::InvalidArgumentError(absl::StrCat("alie:", name, ": z must be a positive number"));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is not an attack (none, sign_flip, scale100, alie, alie:Z)"));
  }
  return attack;
}

void Attacker::Corrupt(absl::Span<float> update) {
  switch (attack_.kind) {
    case Attack::Kind::kNone:
      return;
    case Attack::Kind::kSignFlip:
      for (float& u : update) u = -u;
      return;
    case Attack::Kind::kScale100:
      for (float& u : update) u *= 100.0f;
      return;
    case Attack::Kind::kAlie:
      break;
  }
  if (mean_.size() != update.size()) {  // The first update: nothing to hide in yet.
    mean_.assign(update.begin(), update.end());
    variance_.assign(update.size(), 0.0f);
    return;
  }
  for (size_t i = 0; i < update.size(); ++i) {
    // West's exponentially weighted mean and variance.
    const float delta = update[i] - mean_[i];
    mean_[i] += kAlieDecay * delta;
    variance_[i] = (1.0f - kAlieDecay) * (variance_[i] + kAlieDecay * delta * delta);
    update[i] = mean_[i] - attack_.z * std::sqrt(variance_[i]);
  }
}

}  // namespace tributary::worker
