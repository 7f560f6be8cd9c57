#include "controller/certs/private_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "controller/certs/certificate.h"
#include "controller/certs/openssl_util.h"

namespace siteplane::certs {
namespace {

using detail::EvpPkeyCtxPtr;

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::optional<KeyAlgorithm> algorithmOf(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
      return KeyAlgorithm::kEcdsa;
    case EVP_PKEY_RSA:
      return KeyAlgorithm::kRsa;
    case EVP_PKEY_ED25519:
      return KeyAlgorithm::kEd25519;
    default:
      return std::nullopt;
  }
}

std::string describeKeyType(EVP_PKEY* key) {
  const char* name = EVP_PKEY_get0_type_name(key);
  return name ? name : "unknown";
}

// Refuses to decrypt: an encrypted key in a manifest's source files would need a passphrase we do
// not have, and OpenSSL's default callback would prompt on the terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

bool equalKeys(EVP_PKEY* a, EVP_PKEY* b) { return a && b && EVP_PKEY_eq(a, b) == 1; }

// The first private key block of `pem` decoded for the key type it declares, or null when there
// is none this can decode (encrypted, a type other than ECDSA/RSA/Ed25519, damaged): the caller
// then decodes generically, which also says why. Why not the generic decoder for everything:
// OpenSSL 3's PEM_read_bio_PrivateKey tries the decoders of every key type of every provider,
// about a millisecond per key; d2i_PrivateKey_ex told the type tries only that type's, about a
// quarter of that — the difference between a second and four for 10,000 imported certificates.
EVP_PKEY* decodeTyped(std::string_view pem) {
  struct OpenSslFree {
    void operator()(void* memory) const { OPENSSL_free(memory); }
  };
  // The DER is key material: cleared before it is freed.
  struct KeyDer {
    unsigned char* data = nullptr;
    long length = 0;
    ~KeyDer() { OPENSSL_clear_free(data, static_cast<size_t>(length)); }
  };
  auto bio = detail::readBio(pem);
  while (true) {
    char* rawName = nullptr;
    char* rawHeader = nullptr;
    unsigned char* rawData = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &rawName, &rawHeader, &rawData, &length) != 1) return nullptr;
    std::unique_ptr<char, OpenSslFree> name(rawName);
    std::unique_ptr<char, OpenSslFree> header(rawHeader);
    KeyDer data{rawData, length};
    std::string_view label(rawName);
    if (label.size() < 11 || label.substr(label.size() - 11) != "PRIVATE KEY") continue;
    // The first key block decides, as for PEM_read_bio_PrivateKey; a header means encryption.
    if (rawHeader && *rawHeader) return nullptr;
    int type = EVP_PKEY_NONE;
    if (label == "PRIVATE KEY") {
      const unsigned char* cursor = rawData;
      std::unique_ptr<PKCS8_PRIV_KEY_INFO, detail::Free<PKCS8_PRIV_KEY_INFO_free>> info(
          d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, length));
      const ASN1_OBJECT* algorithm = nullptr;
      if (info && PKCS8_pkey_get0(&algorithm, nullptr, nullptr, nullptr, info.get()) == 1)
        type = OBJ_obj2nid(algorithm);
    } else if (label == "EC PRIVATE KEY") {
      type = EVP_PKEY_EC;
    } else if (label == "RSA PRIVATE KEY") {
      type = EVP_PKEY_RSA;
    }
    if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519) return nullptr;
    const unsigned char* cursor = rawData;
    return d2i_PrivateKey_ex(type, nullptr, &cursor, length, nullptr, nullptr);
  }
}

}  // namespace

std::string_view keyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsa:
      return "ECDSA";
    case KeyAlgorithm::kRsa:
      return "RSA";
    case KeyAlgorithm::kEd25519:
      return "Ed25519";
  }
  return "unknown";
}

std::optional<KeyAlgorithm> parseKeyAlgorithm(std::string_view name) {
  for (auto algorithm : {KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519}) {
    if (keyAlgorithmName(algorithm) == name) return algorithm;
  }
  return std::nullopt;
}

int defaultKeySize(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsa:
      return 256;
    case KeyAlgorithm::kRsa:
      return 2048;
    case KeyAlgorithm::kEd25519:
      return 0;
  }
  return 0;
}

Status validateKeySize(KeyAlgorithm algorithm, int size) {
  if (size == 0) return Status::ok();
  switch (algorithm) {
    case KeyAlgorithm::kEcdsa:
      if (size == 256 || size == 384) return Status::ok();
      return Status::error("ECDSA key size must be 256 or 384, got " + std::to_string(size));
    case KeyAlgorithm::kRsa:
      if (size == 2048 || size == 3072 || size == 4096) return Status::ok();
      return Status::error("RSA key size must be 2048, 3072 or 4096, got " + std::to_string(size));
    case KeyAlgorithm::kEd25519:
      return Status::error("Ed25519 keys have a fixed size; size must be absent, got " +
                           std::to_string(size));
  }
  return Status::error("unknown key algorithm");
}

Result<PrivateKey> PrivateKey::generate(KeyAlgorithm algorithm, int size) {
  if (auto valid = validateKeySize(algorithm, size); !valid) return valid;
  if (size == 0) size = defaultKeySize(algorithm);
  ERR_clear_error();

  const char* type = algorithm == KeyAlgorithm::kEcdsa ? "EC"
                     : algorithm == KeyAlgorithm::kRsa ? "RSA"
                                                       : "ED25519";
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!context || EVP_PKEY_keygen_init(context.get()) <= 0) {
    return detail::failure("cannot start " + std::string(keyAlgorithmName(algorithm)) +
                           " key generation");
  }
  if (algorithm == KeyAlgorithm::kEcdsa &&
      EVP_PKEY_CTX_set_group_name(context.get(), size == 384 ? "P-384" : "P-256") <= 0) {
    return detail::failure("cannot select the ECDSA curve");
  }
  if (algorithm == KeyAlgorithm::kRsa &&
      EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), size) <= 0) {
    return detail::failure("cannot set the RSA key size");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(context.get(), &key) <= 0) {
    return detail::failure("generating a " + std::string(keyAlgorithmName(algorithm)) +
                           " key failed");
  }
  return PrivateKey(share(key), algorithm);
}

Result<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
  ERR_clear_error();
  EVP_PKEY* raw = decodeTyped(pem);
  if (!raw) {
    ERR_clear_error();
    auto bio = detail::readBio(pem);
    raw = PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, noPassphrase, nullptr, nullptr, nullptr);
  }
  if (!raw) {
    bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
    detail::drainErrors();  // the reasons would only repeat "bad decrypt"/"no start line"
    if (encrypted)
      return Result<PrivateKey>::error("the private key is encrypted; provide it unencrypted");
    return Result<PrivateKey>::error("no PEM private key found (expected a \"PRIVATE KEY\" block)");
  }
  auto key = share(raw);
  auto algorithm = algorithmOf(raw);
  if (!algorithm) {
    return Result<PrivateKey>::error("unsupported private key type " + describeKeyType(raw) +
                                     " (supported: ECDSA, RSA, Ed25519)");
  }
  return PrivateKey(std::move(key), *algorithm);
}

Result<PrivateKey> PrivateKey::fromNative(EVP_PKEY* key) {
  auto algorithm = algorithmOf(key);
  if (!algorithm) {
    return Result<PrivateKey>::error("unsupported private key type " + describeKeyType(key) +
                                     " (supported: ECDSA, RSA, Ed25519)");
  }
  EVP_PKEY_up_ref(key);
  return PrivateKey(share(key), *algorithm);
}

std::string PrivateKey::toPem() const {
  auto bio = detail::writeBio();
  PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return detail::bioContents(bio.get());
}

std::string PrivateKey::publicKeyPem() const { return publicKey().toPem(); }

PublicKey PrivateKey::publicKey() const {
  // The private key object also serves as its public half: EVP_PKEY_eq and PEM_write_bio_PUBKEY
  // only look at the public components.
  return PublicKey(key_);
}

bool PrivateKey::matches(const Certificate& certificate) const {
  return equalKeys(X509_get0_pubkey(certificate.native()), key_.get());
}

bool PrivateKey::matchesSpec(KeyAlgorithm algorithm, int size) const {
  if (algorithm != algorithm_) return false;
  if (algorithm == KeyAlgorithm::kEd25519) return true;
  return bits() == (size == 0 ? defaultKeySize(algorithm) : size);
}

int PrivateKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

Result<PublicKey> PublicKey::fromPem(std::string_view pem) {
  ERR_clear_error();
  auto bio = detail::readBio(pem);
  EVP_PKEY* raw =
      PEM_read_bio_PUBKEY_ex(bio.get(), nullptr, noPassphrase, nullptr, nullptr, nullptr);
  if (!raw) {
    detail::drainErrors();
    return Result<PublicKey>::error("no PEM public key found (expected a \"PUBLIC KEY\" block)");
  }
  auto key = share(raw);
  if (!algorithmOf(raw)) {
    return Result<PublicKey>::error("unsupported public key type " + describeKeyType(raw) +
                                    " (supported: ECDSA, RSA, Ed25519)");
  }
  return PublicKey(std::move(key));
}

std::string PublicKey::toPem() const {
  auto bio = detail::writeBio();
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return detail::bioContents(bio.get());
}

bool PublicKey::matches(const Certificate& certificate) const {
  return equalKeys(X509_get0_pubkey(certificate.native()), key_.get());
}

KeyAlgorithm PublicKey::algorithm() const {
  // fromPem and PrivateKey::publicKey only build PublicKeys of the supported algorithms.
  return algorithmOf(key_.get()).value_or(KeyAlgorithm::kEcdsa);
}

int PublicKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

}  // namespace siteplane::certs
