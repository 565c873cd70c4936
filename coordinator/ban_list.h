// Bans by identity: the name of a join token, a client certificate's
// fingerprint, or an IP address when the worker has neither (see
// coordinator/identity.h). A ban outlives the sessions that earned it (a
// banned volunteer cannot come back under a new worker id) and the process
// (it is saved in the checkpoint), and lasts until its deadline or until an
// operator lifts it.
//
// Pure: time comes in as arguments; not thread-safe (the owner serialises
// calls). Bounded: at most kMaxBans entries; when full, the ban closest to
// its end makes room.
#ifndef TRIBUTARY_COORDINATOR_BAN_LIST_H_
#define TRIBUTARY_COORDINATOR_BAN_LIST_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tributary/v1/checkpoint.pb.h"

namespace tributary::coordinator {

inline constexpr size_t kMaxBans = 100'000;

struct Ban {
  std::string identity;
  std::string reason;  // The last invalid request, as its error said.
  absl::Time until;
};

class BanList {
 public:
  // Bans `identity` until `until` (extending a shorter ban).
  void Add(const std::string& identity, std::string reason, absl::Time until);

  // The ban in force on `identity` at `now`, if any.
  std::optional<Ban> Find(absl::string_view identity, absl::Time now) const;

  // Lifts a ban; returns whether there was one.
  bool Lift(absl::string_view identity) { return bans_.erase(identity) > 0; }

  // Forgets bans that ended before `now`.
  void Expire(absl::Time now);

  // The bans in force at `now`, by identity.
  std::vector<Ban> Active(absl::Time now) const;

  void SaveState(tributary::v1::RunState& state) const;
  // INVALID_ARGUMENT, leaving the list as it was, for an empty or repeated
  // identity or more than kMaxBans bans.
  absl::Status RestoreState(const tributary::v1::RunState& state);

 private:
  absl::flat_hash_map<std::string, Ban> bans_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_BAN_LIST_H_
