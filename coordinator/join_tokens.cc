#include "coordinator/join_tokens.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tributary::coordinator {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxTokenNameBytes) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<JoinTokens> JoinTokens::Parse(absl::string_view text, absl::string_view source) {
  JoinTokens tokens;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> digests;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const auto where = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": ", why));
    };
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() > 2) return where("expected NAME TOKEN (or one bare token), got more fields");
    Entry entry;
    if (fields.size() == 2) {
      if (!ValidName(fields[0])) {
        return where(absl::StrCat("a name is 1 to ", kMaxTokenNameBytes, " characters of [A-Za-z0-9._-]"));
      }
      entry.name = std::string(fields[0]);
    }
    if (!entry.name.empty() && !names.insert(entry.name).second) {
      return where(absl::StrCat("name \"", entry.name, "\" appears twice"));
    }
    entry.digest = Sha256(fields.back());
    if (!digests.insert(DigestBytes(entry.digest)).second) return where("a token appears twice");
    if (tokens.entries_.size() == kMaxJoinTokens) return where(absl::StrCat("more than ", kMaxJoinTokens, " tokens"));
    tokens.entries_.push_back(std::move(entry));
  }
  if (tokens.entries_.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no token in the file"));
  if (names.size() != tokens.entries_.size() && tokens.entries_.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": a bare token must be alone in its file; give each token a name (NAME TOKEN)"));
  }
  return tokens;
}

std::optional<std::string> JoinTokens::Match(absl::string_view token) const {
  const Sha256Digest presented = Sha256(token);
  const Entry* match = nullptr;
  // Every entry is compared, so the time does not depend on which matched.
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->name;
}

bool JoinTokens::HasName(absl::string_view name) const {
  for (const Entry& entry : entries_) {
    if (entry.name == name) return true;
  }
  return false;
}

}  // namespace tributary::coordinator
