// The volunteers a coordinator admits: the parsed --join_token_file.
//
// One token per line as `NAME TOKEN`; the name is the volunteer's identity
// on the status page and in bans, so each volunteer (or each group that
// shares a token) can be revoked alone. A file holding one bare token (the
// older form) stays valid: everyone shares it, and identities fall back to
// what else the coordinator knows of a peer (its certificate or address).
// Blank lines and lines starting with '#' are ignored.
//
// Tokens are compared in constant time: each is kept as its SHA-256 and a
// presented token is hashed and compared with every entry, so neither the
// length nor the content of a secret leaks through timing. Secrets never
// leave this class; Match returns the name only.
#ifndef TRIBUTARY_COORDINATOR_JOIN_TOKENS_H_
#define TRIBUTARY_COORDINATOR_JOIN_TOKENS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sha256.h"

namespace tributary::coordinator {

// Limits on the file, so a mistaken path (a log, a binary) fails clearly.
inline constexpr size_t kMaxJoinTokens = 100'000;
inline constexpr size_t kMaxTokenNameBytes = 64;

class JoinTokens {
 public:
  // A table that admits anyone (no --join_token_file).
  JoinTokens() = default;

  // Parses the file's `text`; INVALID_ARGUMENT naming `source`, the line and
  // what is wrong: a name with characters outside [A-Za-z0-9._-], a
  // repeated name or token, a line with three fields, an empty file, or a
  // bare token on a file with more than one line.
  static absl::StatusOr<JoinTokens> Parse(absl::string_view text, absl::string_view source);

  // Whether any token is required.
  bool required() const { return !entries_.empty(); }

  // The name of the volunteer holding `token`: "" for the shared bare
  // token, nullopt when no entry matches. Takes the same time whichever
  // entry matches, or none.
  std::optional<std::string> Match(absl::string_view token) const;

  // Whether a volunteer of this name is still admitted (after a reload).
  bool HasName(absl::string_view name) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;  // "" for a bare token.
    Sha256Digest digest;
  };
  std::vector<Entry> entries_;
};

}  // namespace tributary::coordinator

#endif  // TRIBUTARY_COORDINATOR_JOIN_TOKENS_H_
