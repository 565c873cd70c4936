// SHA-256 digests (OpenSSL) naming shards, model versions and checkpoints.
#ifndef TRIBUTARY_COMMON_SHA256_H_
#define TRIBUTARY_COMMON_SHA256_H_

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tributary {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);

// The digest as 64 lowercase hex characters.
std::string Sha256Hex(const Sha256Digest& digest);

// Sha256Hex's inverse: exactly 64 lowercase hex characters (its one
// spelling, so a blob's URL or a record names a digest one way only);
// INVALID_ARGUMENT saying what is wrong otherwise.
absl::StatusOr<Sha256Digest> ParseSha256Hex(absl::string_view hex);

// The digest as a 32-byte string (the wire form).
std::string DigestBytes(const Sha256Digest& digest);

// DigestBytes' inverse; nullopt when `bytes` is not 32 bytes long.
std::optional<Sha256Digest> DigestFromBytes(absl::string_view bytes);

// Incremental hashing of data that arrives in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(absl::string_view data);
  Sha256Digest Finish();

 private:
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx_;
};

}  // namespace tributary

#endif  // TRIBUTARY_COMMON_SHA256_H_
