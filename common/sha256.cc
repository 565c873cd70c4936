#include "common/sha256.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tributary {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

void Sha256Hasher::CtxDeleter::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
}

void Sha256Hasher::Update(absl::string_view data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest digest;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len);
  return digest;
}

Sha256Digest Sha256(absl::string_view data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

std::string DigestBytes(const Sha256Digest& digest) {
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::optional<Sha256Digest> DigestFromBytes(absl::string_view bytes) {
  Sha256Digest digest{};
  if (bytes.size() != digest.size()) return std::nullopt;
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

std::string Sha256Hex(const Sha256Digest& digest) {
  return absl::BytesToHexString(DigestBytes(digest));
}

absl::StatusOr<Sha256Digest> ParseSha256Hex(absl::string_view hex) {
  Sha256Digest digest{};
  if (hex.size() != 2 * digest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a digest is 64 hex characters, got ", hex.size()));
  }
  for (size_t i = 0; i < digest.size(); ++i) {
    const int high = HexValue(hex[2 * i]), low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("a digest is lowercase hex; character ", high < 0 ? 2 * i + 1 : 2 * i + 2, " is not"));
    }
    digest[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return digest;
}

}  // namespace tributary
