#include "controller/certs/issuance.h"

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {

using namespace testing;

// Verifies `leaf` up to `root` with OpenSSL's path validation, for TLS server use, and returns
// "OK" or OpenSSL's reason.
std::string verifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                        const Certificate& root, const std::string& host = "",
                        int purpose = X509_PURPOSE_SSL_SERVER) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), root.native());
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509) * stack) { sk_X509_free(stack); });
  for (const auto& certificate : intermediates) sk_X509_push(untrusted.get(), certificate.native());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
  X509_STORE_CTX_init(context.get(), store.get(), leaf.native(), untrusted.get());
  X509_STORE_CTX_set_purpose(context.get(), purpose);
  if (!host.empty())
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(context.get()), host.c_str(), 0);
  if (X509_verify_cert(context.get()) == 1) return "OK";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
}

// `openssl verify` with the root as the only trust anchor.
siteplane::testing::CommandResult opensslVerify(const TempDir& dir, const Certificate& leaf,
                                                const std::vector<Certificate>& intermediates,
                                                const Certificate& root,
                                                const std::string& purpose) {
  auto rootFile = dir.write("root.pem", root.toPem());
  auto leafFile = dir.write("leaf.pem", leaf.toPem());
  std::vector<std::string> argv = {"openssl", "verify",  "-purpose",
                                   purpose,   "-CAfile", rootFile.string()};
  if (!intermediates.empty()) {
    argv.insert(
        argv.end(),
        {"-untrusted", dir.write("chain.pem", Certificate::chainToPem(intermediates)).string()});
  }
  argv.push_back(leafFile.string());
  return run(argv);
}

}  // namespace

TEST_CASE("issueSelfSigned makes a server certificate OpenSSL and the openssl CLI accept",
          "[controller][certs]") {
  auto algorithm = GENERATE(KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519);
  CAPTURE(keyAlgorithmName(algorithm));
  TempDir dir;
  auto key = valueOf(PrivateKey::generate(algorithm));
  CertificateTemplate request = serverTemplate({"www.contoso.com", "*.contoso.com"}, nowSeconds());
  request.commonName = "www.contoso.com";
  request.ipAddresses = {"127.0.0.1", "::1"};
  auto certificate = valueOf(issueSelfSigned(request, key));

  CHECK(key.matches(certificate));
  CHECK(certificate.info().selfSigned);
  CHECK(certificate.info().publicKeyAlgorithm == keyAlgorithmName(algorithm));
  CHECK(verifyChain(certificate, {}, certificate, "www.contoso.com") == "OK");
  CHECK(verifyChain(certificate, {}, certificate, "shop.contoso.com") == "OK");
  CHECK(verifyChain(certificate, {}, certificate, "www.fabrikam.com") == "hostname mismatch");
  auto verified = opensslVerify(dir, certificate, {}, certificate, "sslserver");
  CHECK(verified.exitCode == 0);
  CHECK(verified.out.find(": OK") != std::string::npos);

  std::string text = opensslText(certificate);
  CAPTURE(text);
  CHECK(text.find("Version: 3 (0x2)") != std::string::npos);
  CHECK(text.find("Subject: CN = www.contoso.com") != std::string::npos);
  CHECK(text.find("X509v3 Basic Constraints: critical CA:FALSE") != std::string::npos);
  // Key encipherment only where the key can encipher (RFC 5480, RFC 8410).
  if (algorithm == KeyAlgorithm::kRsa) {
    CHECK(text.find("X509v3 Key Usage: critical Digital Signature, Key Encipherment X509v3") !=
          std::string::npos);
  } else {
    CHECK(text.find("X509v3 Key Usage: critical Digital Signature X509v3") != std::string::npos);
  }
  CHECK(text.find("X509v3 Extended Key Usage: TLS Web Server Authentication ") !=
        std::string::npos);
  CHECK(text.find("X509v3 Subject Alternative Name: DNS:www.contoso.com, DNS:*.contoso.com, "
                  "IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1") != std::string::npos);
  CHECK(text.find("X509v3 Subject Key Identifier:") != std::string::npos);
  CHECK(text.find("X509v3 Authority Key Identifier:") != std::string::npos);
  if (algorithm == KeyAlgorithm::kEd25519) {
    CHECK(text.find("Signature Algorithm: ED25519") != std::string::npos);
  } else if (algorithm == KeyAlgorithm::kEcdsa) {
    CHECK(text.find("Signature Algorithm: ecdsa-with-SHA256") != std::string::npos);
  } else {
    CHECK(text.find("Signature Algorithm: sha256WithRSAEncryption") != std::string::npos);
  }

  // The serial is random, positive and 16 bytes long.
  const std::string& serial = certificate.info().serialNumber;
  CHECK(serial.size() == 32);
  CHECK(serial.find_first_not_of("0123456789ABCDEF") == std::string::npos);
  CHECK(serial[0] >= '4');
  CHECK(serial[0] <= '7');
  auto again = valueOf(issueSelfSigned(request, key));
  CHECK(again.info().serialNumber != serial);
  CHECK(again.thumbprint() != certificate.thumbprint());
}

TEST_CASE("issueSignedBy builds a root, intermediate and leaf chain that verifies",
          "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  const Certificate& root = hierarchy.root.leaf();
  const Certificate& intermediate = hierarchy.intermediate.leaf();
  const Certificate& leaf = hierarchy.leaf.leaf();

  CHECK(verifyChain(leaf, {intermediate}, root, "www.contoso.com") == "OK");
  CHECK(verifyChain(leaf, {}, root) == "unable to get local issuer certificate");
  auto verified = opensslVerify(dir, leaf, {intermediate}, root, "sslserver");
  CHECK(verified.exitCode == 0);
  // The leaf is not for client authentication.
  CHECK(opensslVerify(dir, leaf, {intermediate}, root, "sslclient").exitCode != 0);

  CHECK(leaf.isSignedBy(intermediate));
  CHECK(intermediate.isSignedBy(root));
  CHECK_FALSE(leaf.isSignedBy(root));
  CHECK(leaf.info().issuer == "CN=Siteplane Test Intermediate");
  CHECK_FALSE(leaf.info().selfSigned);

  std::string rootText = opensslText(root);
  CAPTURE(rootText);
  CHECK(rootText.find("X509v3 Basic Constraints: critical CA:TRUE") != std::string::npos);
  CHECK(rootText.find("X509v3 Key Usage: critical Digital Signature, Certificate Sign, CRL Sign") !=
        std::string::npos);
  CHECK(rootText.find("Extended Key Usage") == std::string::npos);
  CHECK(rootText.find("Subject Alternative Name") == std::string::npos);  // a CA's CN is no host

  // The leaf's authority key identifier is the intermediate's subject key identifier.
  auto keyId = [](const std::string& text, const std::string& field) {
    auto at = text.find(field);
    REQUIRE(at != std::string::npos);
    at += field.size();
    return text.substr(at, text.find(' ', at) - at);
  };
  std::string leafText = opensslText(leaf);
  CHECK(keyId(leafText, "X509v3 Authority Key Identifier: ") ==
        keyId(opensslText(intermediate), "X509v3 Subject Key Identifier: "));
}

TEST_CASE("issueSignedBy issues client certificates and CA usages as requested",
          "[controller][certs]") {
  auto hierarchy = makeHierarchy({"unused.contoso.com"});
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEd25519));
  CertificateTemplate request;
  request.commonName = "alice";
  request.usages = {Usage::kDigitalSignature, Usage::kClientAuth};
  request.validFor(nowSeconds(), std::chrono::hours(1));
  auto client = valueOf(issueSignedBy(request, key.publicKey(), hierarchy.intermediate.leaf(),
                                      hierarchy.intermediate.key, nowSeconds()));
  CHECK(client.info().extendedKeyUsages == std::vector<std::string>{"client auth"});
  CHECK(client.info().keyUsages == std::vector<std::string>{"digital signature"});
  CHECK(client.info().dnsNames == std::vector<std::string>{"alice"});  // the CN, as a SAN
  CHECK(verifyChain(client, {hierarchy.intermediate.leaf()}, hierarchy.root.leaf(), "",
                    X509_PURPOSE_SSL_CLIENT) == "OK");
  CHECK(verifyChain(client, {hierarchy.intermediate.leaf()}, hierarchy.root.leaf(), "",
                    X509_PURPOSE_SSL_SERVER) == "unsuitable certificate purpose");
}

TEST_CASE("issueSignedBy refuses a CA certificate that cannot sign, saying why",
          "[controller][certs]") {
  auto start = nowSeconds();
  auto hierarchy = makeHierarchy({"www.contoso.com"}, start);
  auto subject = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).publicKey();
  auto request = serverTemplate({"api.contoso.com"}, start);

  SECTION("not a CA") {
    auto result = issueSignedBy(request, subject, hierarchy.leaf.leaf(), hierarchy.leaf.key, start);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.message() == "CA certificate with thumbprint " +
                                  hierarchy.leaf.leaf().thumbprint() +
                                  " is not a CA (basicConstraints CA:TRUE is missing)");
  }
  SECTION("a CA whose keyUsage lacks cert sign") {
    auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
    // effectiveUsages adds cert sign for every CA, so build this one with the openssl CLI instead.
    TempDir dir;
    auto keyFile = dir.write("ca.key", key.toPem());
    auto made = run({"openssl", "req", "-x509", "-new", "-key", keyFile.string(), "-days", "1",
                     "-subj", "/CN=No Sign CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,digitalSignature"});
    REQUIRE(made.exitCode == 0);
    auto ca = valueOf(Certificate::fromPem(made.out));
    auto result = issueSignedBy(request, subject, ca, key, start);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.message() ==
          "CA certificate CN=No Sign CA may not sign certificates (its keyUsage lacks cert sign)");
  }
  SECTION("expired") {
    auto later = start + std::chrono::hours(24 * 366);
    auto result = issueSignedBy(serverTemplate({"api.contoso.com"}, later), subject,
                                hierarchy.intermediate.leaf(), hierarchy.intermediate.key, later);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.message().rfind("CA certificate CN=Siteplane Test Intermediate expired at ", 0) ==
          0);
  }
  SECTION("not yet valid") {
    auto earlier = start - std::chrono::hours(1);
    auto result = issueSignedBy(serverTemplate({"api.contoso.com"}, earlier), subject,
                                hierarchy.intermediate.leaf(), hierarchy.intermediate.key, earlier);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.message().rfind(
              "CA certificate CN=Siteplane Test Intermediate is not valid before ", 0) == 0);
  }
  SECTION("the key is not the CA's") {
    auto result =
        issueSignedBy(request, subject, hierarchy.intermediate.leaf(), hierarchy.root.key, start);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.message() ==
          "the CA private key does not match CA certificate CN=Siteplane Test Intermediate");
  }
}

TEST_CASE("issueSignedBy ends a certificate no later than its CA", "[controller][certs]") {
  auto start = nowSeconds();
  auto caKey = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto ca = valueOf(issueSelfSigned(caTemplate("Short CA", start, std::chrono::hours(2)), caKey));
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto leaf =
      valueOf(issueSignedBy(serverTemplate({"www.contoso.com"}, start, std::chrono::hours(24)),
                            key.publicKey(), ca, caKey, start));
  CHECK(leaf.info().notAfter == ca.info().notAfter);
  CHECK(verifyChain(leaf, {}, ca) == "OK");
}

TEST_CASE("Templates are validated with every problem named by field", "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CertificateTemplate empty;
  empty.validFor(nowSeconds(), std::chrono::hours(1));
  auto none = issueSelfSigned(empty, key);
  REQUIRE_FALSE(none.isOk());
  CHECK(none.message() == "at least one of commonName, dnsNames or ipAddresses is required");

  CertificateTemplate bad;
  bad.commonName = std::string(65, 'a');
  bad.dnsNames = {"ok.contoso.com", "bad name.contoso.com", "-x.contoso.com", "*.ok.com"};
  bad.ipAddresses = {"10.0.0.1", "10.0.0.256"};
  bad.notBefore = nowSeconds();
  bad.notAfter = bad.notBefore;
  auto result = issueSelfSigned(bad, key);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.message() ==
        "commonName: must be at most 64 characters, got 65; "
        "dnsNames[1]: 'bad name.contoso.com' is not a valid DNS name; "
        "dnsNames[2]: '-x.contoso.com' is not a valid DNS name; "
        "ipAddresses[1]: '10.0.0.256' is not an IPv4 or IPv6 address; "
        "notAfter: must be after notBefore");
}

TEST_CASE("A certificate with only IP addresses has an empty subject and a critical SAN",
          "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CertificateTemplate request;
  request.ipAddresses = {"127.0.0.1"};
  request.validFor(nowSeconds(), std::chrono::hours(1));
  auto certificate = valueOf(issueSelfSigned(request, key));
  CHECK(certificate.info().subject.empty());
  CHECK(certificate.coversHost("127.0.0.1"));
  std::string text = opensslText(certificate);
  CAPTURE(text);
  CHECK(text.find("X509v3 Subject Alternative Name: critical IP Address:127.0.0.1") !=
        std::string::npos);
  CHECK(verifyChain(certificate, {}, certificate) == "OK");
}

TEST_CASE("differencesFrom names what a spec change means for an issued certificate",
          "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CertificateTemplate request = serverTemplate({"www.contoso.com", "Contoso.com"}, nowSeconds());
  request.ipAddresses = {"2001:0db8::1"};
  auto issued = valueOf(issueSelfSigned(request, key)).info();
  CHECK(differencesFrom(request, KeyAlgorithm::kEcdsa, issued).empty());

  // Renewal at another time, another order of names: still the same request.
  CertificateTemplate same = request;
  same.dnsNames = {"contoso.com", "www.contoso.com"};
  same.validFor(nowSeconds() + std::chrono::hours(5), std::chrono::hours(1));
  CHECK(differencesFrom(same, KeyAlgorithm::kEcdsa, issued).empty());

  CertificateTemplate changed = request;
  changed.commonName = "www.contoso.com";  // also a SAN already, so dnsNames stay equal
  changed.dnsNames = {"www.contoso.com", "shop.contoso.com"};
  changed.ipAddresses = {};
  changed.usages = {Usage::kDigitalSignature, Usage::kServerAuth, Usage::kClientAuth};
  CHECK(
      differencesFrom(changed, KeyAlgorithm::kEcdsa, issued) ==
      std::vector<std::string>{
          "commonName: certificate has '', spec wants 'www.contoso.com'",
          "dnsNames: certificate has [contoso.com, www.contoso.com], spec wants [shop.contoso.com, "
          "www.contoso.com]",
          "ipAddresses: certificate has [2001:db8::1], spec wants []",
          "usages: certificate has [digital signature, server auth], spec wants [client auth, "
          "digital signature, server auth]"});

  CertificateTemplate ca = request;
  ca.isCA = true;
  CHECK(differencesFrom(ca, KeyAlgorithm::kEcdsa, issued) ==
        std::vector<std::string>{
            "isCA: certificate has false, spec wants true",
            "usages: certificate has [digital signature, server auth], spec wants [cert sign, "
            "digital signature, server auth]"});
}

TEST_CASE("effectiveUsages applies the defaults, the CA bit and the key's abilities",
          "[controller][certs]") {
  CertificateTemplate request;
  CHECK(effectiveUsages(request, KeyAlgorithm::kRsa) == defaultUsages());
  CHECK(effectiveUsages(request, KeyAlgorithm::kEcdsa) ==
        std::vector<Usage>{Usage::kDigitalSignature, Usage::kServerAuth});
  request.isCA = true;
  request.usages = {Usage::kCrlSign, Usage::kDigitalSignature, Usage::kDigitalSignature};
  CHECK(effectiveUsages(request, KeyAlgorithm::kEd25519) ==
        std::vector<Usage>{Usage::kDigitalSignature, Usage::kCertSign, Usage::kCrlSign});
}

TEST_CASE("PrivateKey matchesSpec compares algorithm and size with the spec's defaults",
          "[controller][certs]") {
  auto ecdsa = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CHECK(ecdsa.matchesSpec(KeyAlgorithm::kEcdsa, 0));
  CHECK(ecdsa.matchesSpec(KeyAlgorithm::kEcdsa, 256));
  CHECK_FALSE(ecdsa.matchesSpec(KeyAlgorithm::kEcdsa, 384));
  CHECK_FALSE(ecdsa.matchesSpec(KeyAlgorithm::kRsa, 0));
  auto ed25519 = valueOf(PrivateKey::generate(KeyAlgorithm::kEd25519));
  CHECK(ed25519.matchesSpec(KeyAlgorithm::kEd25519, 0));
  CHECK_FALSE(ed25519.matchesSpec(KeyAlgorithm::kEcdsa, 0));
}

}  // namespace siteplane::certs
