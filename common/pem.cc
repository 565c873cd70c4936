#include "common/pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/sha256.h"

namespace tributary {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::unique_ptr<BIO, BioFree> MemoryBio(absl::string_view pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate in `pem`; null when there is none. Failures leave
// nothing on OpenSSL's per-thread error queue for gRPC's TLS code to trip on.
X509Ptr ParseCertificate(absl::string_view pem) {
  X509Ptr cert(PEM_read_bio_X509(MemoryBio(pem).get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

// Refuses every passphrase request: an encrypted key fails instead of
// prompting on the terminal (gRPC could not use it either).
int NoPassphrase(char*, int, int, void*) { return 0; }

PkeyPtr ParsePrivateKey(absl::string_view pem) {
  PkeyPtr pkey(PEM_read_bio_PrivateKey(MemoryBio(pem).get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  return pkey;
}

absl::Status FileError(const PemFile& file, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(file.flag, ": ", file.path, ": ", problem));
}

absl::StatusOr<std::string> ReadPem(const PemFile& file) {
  if (file.path.empty()) return absl::InvalidArgumentError(absl::StrCat(file.flag, ": no file given"));
  absl::StatusOr<std::string> text = ReadFile(file.path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(file.flag, ": ", text.status().message()));
  return text;
}

}  // namespace

absl::StatusOr<std::string> ReadCertificates(const PemFile& file) {
  absl::StatusOr<std::string> text = ReadPem(file);
  if (!text.ok()) return text.status();
  if (ParseCertificate(*text) == nullptr) return FileError(file, "holds no PEM certificate");
  return text;
}

absl::StatusOr<PemKeyPair> ReadKeyPair(const PemFile& certificate, const PemFile& key) {
  absl::StatusOr<std::string> chain = ReadCertificates(certificate);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key_text = ReadPem(key);
  if (!key_text.ok()) return key_text.status();
  PkeyPtr pkey = ParsePrivateKey(*key_text);
  if (pkey == nullptr) return FileError(key, "not an unencrypted PEM private key");
  if (X509_check_private_key(ParseCertificate(*chain).get(), pkey.get()) != 1) {
    return FileError(key, absl::StrCat("not the key of the certificate in ", certificate.flag, " (",
                                       certificate.path, ")"));
  }
  return PemKeyPair{*std::move(chain), *std::move(key_text)};
}

absl::StatusOr<std::string> CertificateFingerprint(absl::string_view pem) {
  X509Ptr cert = ParseCertificate(pem);
  if (cert == nullptr) return absl::InvalidArgumentError("no PEM certificate");
  unsigned char* der = nullptr;
  const int der_size = i2d_X509(cert.get(), &der);
  if (der_size <= 0) return absl::InvalidArgumentError("certificate does not encode as DER");
  const Sha256Digest digest = Sha256(absl::string_view(reinterpret_cast<const char*>(der), der_size));
  OPENSSL_free(der);
  return absl::StrCat("sha256:", Sha256Hex(digest));
}

absl::Status CheckBothOrNeither(const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty() && !key_path.empty()) return absl::InvalidArgumentError("--tls_cert: required with --tls_key");
  if (!cert_path.empty() && key_path.empty()) return absl::InvalidArgumentError("--tls_key: required with --tls_cert");
  return absl::OkStatus();
}

}  // namespace tributary
