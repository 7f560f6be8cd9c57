#include "controller/certs/private_key.h"

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {

using namespace testing;

struct KeyCase {
  KeyAlgorithm algorithm;
  int size;
  int expectedBits;
  const char* opensslType;  // what `openssl pkey -text` names the key
};

}  // namespace

TEST_CASE(
    "PrivateKey generates every allowed algorithm and size and round-trips through PKCS#8 PEM",
    "[controller][certs]") {
  auto keyCase =
      GENERATE(KeyCase{KeyAlgorithm::kEcdsa, 0, 256, "ASN1 OID: prime256v1"},
               KeyCase{KeyAlgorithm::kEcdsa, 256, 256, "ASN1 OID: prime256v1"},
               KeyCase{KeyAlgorithm::kEcdsa, 384, 384, "ASN1 OID: secp384r1"},
               KeyCase{KeyAlgorithm::kRsa, 0, 2048, "Private-Key: (2048 bit, 2 primes)"},
               KeyCase{KeyAlgorithm::kRsa, 3072, 3072, "Private-Key: (3072 bit, 2 primes)"},
               KeyCase{KeyAlgorithm::kRsa, 4096, 4096, "Private-Key: (4096 bit, 2 primes)"},
               KeyCase{KeyAlgorithm::kEd25519, 0, 256, "ED25519 Private-Key"});
  CAPTURE(keyAlgorithmName(keyCase.algorithm), keyCase.size);

  auto key = valueOf(PrivateKey::generate(keyCase.algorithm, keyCase.size));
  CHECK(key.algorithm() == keyCase.algorithm);
  CHECK(key.bits() == keyCase.expectedBits);

  std::string pem = key.toPem();
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);  // PKCS#8, unencrypted
  auto parsed = valueOf(PrivateKey::fromPem(pem));
  CHECK(parsed.algorithm() == keyCase.algorithm);
  CHECK(parsed.bits() == keyCase.expectedBits);
  CHECK(parsed.toPem() == pem);
  CHECK(parsed.publicKeyPem() == key.publicKeyPem());

  // The openssl CLI reads both halves and agrees on what they are.
  auto text = run({"openssl", "pkey", "-text", "-noout"}, pem);
  REQUIRE(text.exitCode == 0);
  CHECK(text.out.find(keyCase.opensslType) != std::string::npos);
  auto publicFromCli = run({"openssl", "pkey", "-pubout"}, pem);
  REQUIRE(publicFromCli.exitCode == 0);
  CHECK(publicFromCli.out == key.publicKeyPem());

  auto publicKey = valueOf(PublicKey::fromPem(key.publicKeyPem()));
  CHECK(publicKey.algorithm() == keyCase.algorithm);
  CHECK(publicKey.toPem() == key.publicKeyPem());
}

TEST_CASE("PrivateKey refuses sizes the Certificate spec does not allow", "[controller][certs]") {
  auto ecdsa = PrivateKey::generate(KeyAlgorithm::kEcdsa, 521);
  REQUIRE_FALSE(ecdsa.isOk());
  CHECK(ecdsa.message() == "ECDSA key size must be 256 or 384, got 521");
  auto rsa = PrivateKey::generate(KeyAlgorithm::kRsa, 1024);
  REQUIRE_FALSE(rsa.isOk());
  CHECK(rsa.message() == "RSA key size must be 2048, 3072 or 4096, got 1024");
  auto ed25519 = PrivateKey::generate(KeyAlgorithm::kEd25519, 256);
  REQUIRE_FALSE(ed25519.isOk());
  CHECK(ed25519.message() == "Ed25519 keys have a fixed size; size must be absent, got 256");
}

TEST_CASE("PrivateKey reads traditional PEM keys made by the openssl CLI", "[controller][certs]") {
  TempDir dir;
  auto rsa = run({"openssl", "genrsa", "-traditional", "2048"});
  REQUIRE(rsa.exitCode == 0);
  REQUIRE(rsa.out.find("BEGIN RSA PRIVATE KEY") != std::string::npos);
  CHECK(valueOf(PrivateKey::fromPem(rsa.out)).algorithm() == KeyAlgorithm::kRsa);

  auto ec = run({"openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout"});
  REQUIRE(ec.exitCode == 0);
  REQUIRE(ec.out.find("BEGIN EC PRIVATE KEY") != std::string::npos);
  auto key = valueOf(PrivateKey::fromPem(ec.out));
  CHECK(key.algorithm() == KeyAlgorithm::kEcdsa);
  CHECK(key.bits() == 384);
}

TEST_CASE("PrivateKey refuses encrypted, unsupported and malformed keys with a clear error",
          "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto encrypted = run(
      {"openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret"}, key.toPem());
  REQUIRE(encrypted.exitCode == 0);
  auto fromEncrypted = PrivateKey::fromPem(encrypted.out);
  REQUIRE_FALSE(fromEncrypted.isOk());
  CHECK(fromEncrypted.message() == "the private key is encrypted; provide it unencrypted");

  auto ed448 = run({"openssl", "genpkey", "-algorithm", "ED448"});
  REQUIRE(ed448.exitCode == 0);
  auto fromEd448 = PrivateKey::fromPem(ed448.out);
  REQUIRE_FALSE(fromEd448.isOk());
  CHECK(fromEd448.message() ==
        "unsupported private key type ED448 (supported: ECDSA, RSA, Ed25519)");

  auto garbage = PrivateKey::fromPem("not a key");
  REQUIRE_FALSE(garbage.isOk());
  CHECK(garbage.message() == "no PEM private key found (expected a \"PRIVATE KEY\" block)");

  // A public key is not a private key.
  CHECK_FALSE(PrivateKey::fromPem(key.publicKeyPem()).isOk());
}

TEST_CASE("PrivateKey reads the key after a certificate in a combined file, whatever its form",
          "[controller][certs]") {
  auto start = nowSeconds();
  for (auto algorithm : {KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519}) {
    CAPTURE(keyAlgorithmName(algorithm));
    auto key = valueOf(PrivateKey::generate(algorithm));
    auto certificate = valueOf(issueSelfSigned(serverTemplate({"www.contoso.com"}, start), key));
    // certificate first, then the key: what `cat site.crt site.key > site.pem` gives.
    auto combined = valueOf(PrivateKey::fromPem(certificate.toPem() + key.toPem()));
    CHECK(combined.algorithm() == algorithm);
    CHECK(combined.matches(certificate));
    CHECK(combined.toPem() == key.toPem());
  }
  // The traditional EC form after a certificate, and the first key block wins over a second.
  auto ec = run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"});
  REQUIRE(ec.exitCode == 0);
  auto ecKey = valueOf(PrivateKey::fromPem(ec.out));
  auto other = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto certificate = valueOf(issueSelfSigned(serverTemplate({"www.contoso.com"}, start), ecKey));
  auto first = valueOf(PrivateKey::fromPem(certificate.toPem() + ec.out + other.toPem()));
  CHECK(first.matches(certificate));
}

TEST_CASE("PrivateKey refuses a traditional key encrypted with a PEM header",
          "[controller][certs]") {
  auto ec = run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"});
  REQUIRE(ec.exitCode == 0);
  auto encrypted = run({"openssl", "ec", "-aes256", "-passout", "pass:secret"}, ec.out);
  REQUIRE(encrypted.exitCode == 0);
  REQUIRE(encrypted.out.find("Proc-Type: 4,ENCRYPTED") != std::string::npos);
  auto fromEncrypted = PrivateKey::fromPem(encrypted.out);
  REQUIRE_FALSE(fromEncrypted.isOk());
  CHECK(fromEncrypted.message() == "the private key is encrypted; provide it unencrypted");
}

TEST_CASE("PrivateKey matches only the certificate that carries its public key",
          "[controller][certs]") {
  auto start = nowSeconds();
  for (auto algorithm : {KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519}) {
    CAPTURE(keyAlgorithmName(algorithm));
    auto key = valueOf(PrivateKey::generate(algorithm));
    auto other = valueOf(PrivateKey::generate(algorithm));
    auto certificate = valueOf(issueSelfSigned(serverTemplate({"www.contoso.com"}, start), key));
    CHECK(key.matches(certificate));
    CHECK(key.publicKey().matches(certificate));
    CHECK_FALSE(other.matches(certificate));
    CHECK_FALSE(other.publicKey().matches(certificate));
  }
}

TEST_CASE("Key algorithm names parse as the Certificate spec spells them", "[controller][certs]") {
  CHECK(parseKeyAlgorithm("ECDSA") == KeyAlgorithm::kEcdsa);
  CHECK(parseKeyAlgorithm("RSA") == KeyAlgorithm::kRsa);
  CHECK(parseKeyAlgorithm("Ed25519") == KeyAlgorithm::kEd25519);
  CHECK_FALSE(parseKeyAlgorithm("ecdsa").has_value());
  CHECK_FALSE(parseKeyAlgorithm("DSA").has_value());
  CHECK(defaultKeySize(KeyAlgorithm::kEcdsa) == 256);
  CHECK(defaultKeySize(KeyAlgorithm::kRsa) == 2048);
  CHECK(defaultKeySize(KeyAlgorithm::kEd25519) == 0);
}

}  // namespace siteplane::certs
