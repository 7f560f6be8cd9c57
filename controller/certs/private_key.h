#pragma once

// Key pairs for certificates: generation (ECDSA P-256/P-384, RSA 2048/3072/4096, Ed25519), PEM
// encoding (PKCS#8 for private keys, SubjectPublicKeyInfo for public keys) and matching a key
// against a certificate. Private key material is never logged and never part of an error message.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace siteplane::certs {

class Certificate;

enum class KeyAlgorithm { kEcdsa, kRsa, kEd25519 };

// "ECDSA", "RSA", "Ed25519": the spelling of Certificate spec.privateKey.algorithm.
std::string_view keyAlgorithmName(KeyAlgorithm algorithm);
std::optional<KeyAlgorithm> parseKeyAlgorithm(std::string_view name);

// The size used when spec.privateKey.size is absent: 256 for ECDSA, 2048 for RSA, 0 for Ed25519
// (whose size is fixed and must not be given).
int defaultKeySize(KeyAlgorithm algorithm);

// Checks a (algorithm, size) pair as spec.privateKey allows it; size 0 means "the default".
Status validateKeySize(KeyAlgorithm algorithm, int size);

// A public key, e.g. the subject key a CA signs into a certificate. Copies share the immutable
// OpenSSL object.
class PublicKey {
 public:
  static Result<PublicKey> fromPem(std::string_view pem);

  std::string toPem() const;
  // True when `certificate` carries this public key.
  bool matches(const Certificate& certificate) const;
  KeyAlgorithm algorithm() const;
  int bits() const;
  EVP_PKEY* native() const { return key_.get(); }

 private:
  friend class PrivateKey;
  explicit PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// A private key (and its public half). Copies share the immutable OpenSSL object, which OpenSSL 3
// allows to be used for signing from several threads at once.
class PrivateKey {
 public:
  // size 0 picks defaultKeySize(algorithm). Fails for sizes spec.privateKey does not allow.
  static Result<PrivateKey> generate(KeyAlgorithm algorithm, int size = 0);
  // Reads the first private key in `pem`: PKCS#8 ("PRIVATE KEY") or the traditional RSA/EC forms.
  // Encrypted keys are refused (never prompts for a passphrase). Only ECDSA, RSA and Ed25519 keys
  // are accepted.
  static Result<PrivateKey> fromPem(std::string_view pem);
  // Takes a reference to `key` (EVP_PKEY_up_ref); the caller keeps its own. Fails for unsupported
  // key types as fromPem does.
  static Result<PrivateKey> fromNative(EVP_PKEY* key);

  // Unencrypted PKCS#8 PEM. The caller decides where it goes; it must never reach a log.
  std::string toPem() const;
  std::string publicKeyPem() const;
  PublicKey publicKey() const;
  // True when `certificate`'s public key is this key's public half.
  bool matches(const Certificate& certificate) const;
  KeyAlgorithm algorithm() const { return algorithm_; }
  // True when this key is what spec.privateKey asks for (size 0: the default size). A key that is
  // not must be replaced even under rotationPolicy Never, as cert-manager does.
  bool matchesSpec(KeyAlgorithm algorithm, int size) const;
  // Key size in bits: the curve size for ECDSA, the modulus for RSA, 256 for Ed25519
  // (OpenSSL counts the encoded public key).
  int bits() const;
  EVP_PKEY* native() const { return key_.get(); }

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> key, KeyAlgorithm algorithm)
      : key_(std::move(key)), algorithm_(algorithm) {}
  std::shared_ptr<EVP_PKEY> key_;
  KeyAlgorithm algorithm_;
};

}  // namespace siteplane::certs
