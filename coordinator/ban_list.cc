#include "coordinator/ban_list.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tributary::coordinator {

void BanList::Add(const std::string& identity, std::string reason, absl::Time until) {
  auto it = bans_.find(identity);
  if (it == bans_.end() && bans_.size() >= kMaxBans) {
    auto soonest = std::min_element(bans_.begin(), bans_.end(),
                                    [](const auto& a, const auto& b) { return a.second.until < b.second.until; });
    bans_.erase(soonest);
  }
  Ban& ban = bans_[identity];
  ban.identity = identity;
  ban.reason = std::move(reason);
  ban.until = std::max(ban.until, until);
}

std::optional<Ban> BanList::Find(absl::string_view identity, absl::Time now) const {
  auto it = bans_.find(identity);
  if (it == bans_.end() || it->second.until <= now) return std::nullopt;
  return it->second;
}

void BanList::Expire(absl::Time now) {
  absl::erase_if(bans_, [now](const auto& entry) { return entry.second.until <= now; });
}

std::vector<Ban> BanList::Active(absl::Time now) const {
  std::vector<Ban> active;
  for (const auto& [identity, ban] : bans_) {
    if (ban.until > now) active.push_back(ban);
  }
  std::sort(active.begin(), active.end(), [](const Ban& a, const Ban& b) { return a.identity < b.identity; });
  return active;
}

void BanList::SaveState(tributary::v1::RunState& state) const {
  for (const auto& [identity, ban] : bans_) {
    tributary::v1::BanEntry& saved = *state.add_bans();
    saved.set_identity(identity);
    saved.set_reason(ban.reason);
    saved.set_until_unix_s(absl::ToDoubleSeconds(ban.until - absl::UnixEpoch()));
  }
}

absl::Status BanList::RestoreState(const tributary::v1::RunState& state) {
  if (static_cast<size_t>(state.bans_size()) > kMaxBans) {
    return absl::InvalidArgumentError(absl::StrCat(state.bans_size(), " bans, at most ", kMaxBans));
  }
  absl::flat_hash_map<std::string, Ban> bans;
  for (const tributary::v1::BanEntry& saved : state.bans()) {
    if (saved.identity().empty() || bans.contains(saved.identity())) {
      return absl::InvalidArgumentError(absl::StrCat("ban of \"", saved.identity(), "\": empty or repeated"));
    }
    bans[saved.identity()] = Ban{saved.identity(), saved.reason(),
                                 absl::UnixEpoch() + absl::Seconds(saved.until_unix_s())};
  }
  bans_ = std::move(bans);
  return absl::OkStatus();
}

}  // namespace tributary::coordinator
