#include "controller/certs/certificate.h"

#include <openssl/x509v3.h>

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {

using namespace testing;
using siteplane::testing::makeCertificate;
using siteplane::testing::readFile;

Certificate certificateFromFile(const std::filesystem::path& path) {
  return valueOf(Certificate::fromPem(readFile(path)));
}

}  // namespace

TEST_CASE(
    "Certificate info agrees with the openssl CLI on thumbprint, fingerprint, serial and names",
    "[controller][certs]") {
  TempDir dir;
  auto made = makeCertificate(dir.path(), "site", {"www.contoso.com", "contoso.com"});
  auto certificate = certificateFromFile(made.cert);
  const CertificateInfo& info = certificate.info();

  CHECK(info.thumbprint == made.thumbprint);
  CHECK(info.thumbprint == opensslFingerprint(certificate, "sha1"));
  CHECK(info.thumbprint.size() == 40);
  CHECK(info.sha256Fingerprint == opensslFingerprint(certificate, "sha256"));
  CHECK(info.sha256Fingerprint.size() == 64);

  auto serial = run({"openssl", "x509", "-noout", "-serial"}, certificate.toPem());
  REQUIRE(serial.exitCode == 0);
  CHECK("serial=" + info.serialNumber + "\n" == serial.out);

  auto subject =
      run({"openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"}, certificate.toPem());
  CHECK("subject=" + info.subject + "\n" == subject.out);
  CHECK(info.subject == "CN=www.contoso.com");
  CHECK(info.issuer == "CN=www.contoso.com");
  CHECK(info.commonName == "www.contoso.com");
  CHECK(info.dnsNames == std::vector<std::string>{"www.contoso.com", "contoso.com"});
  CHECK(info.ipAddresses.empty());
  CHECK_FALSE(info.isCA);
  CHECK(info.selfSigned);
  CHECK(info.extendedKeyUsages == std::vector<std::string>{"server auth", "client auth"});
  CHECK(info.publicKeyAlgorithm == "ECDSA");
  CHECK(info.publicKeyBits == 256);

  // 30 days from the openssl CLI's "now".
  auto lifetime = std::chrono::duration_cast<std::chrono::hours>(info.notAfter - info.notBefore);
  CHECK(lifetime == std::chrono::hours(24 * 30));
  CHECK(info.notBefore <= Clock::now());
  CHECK(info.notBefore > Clock::now() - std::chrono::minutes(5));
}

TEST_CASE("Certificate reads a CA's basicConstraints and keyUsage", "[controller][certs]") {
  TempDir dir;
  auto ca = makeCertificate(dir.path(), "ca", {}, nullptr, true);
  auto info = certificateFromFile(ca.cert).info();
  CHECK(info.isCA);
  CHECK_FALSE(info.pathLength.has_value());
  CHECK(info.keyUsages == std::vector<std::string>{"cert sign", "crl sign"});
  CHECK(info.extendedKeyUsages.empty());
  CHECK(info.subject == "CN=ca");
}

TEST_CASE("Certificate PEM chains parse in file order and encode back", "[controller][certs]") {
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  std::string pem = hierarchy.leaf.chainPem();
  // A key block in the same file is skipped.
  auto chain = valueOf(Certificate::chainFromPem(hierarchy.leaf.key.toPem() + pem));
  REQUIRE(chain.size() == 3);
  CHECK(chain[0] == hierarchy.leaf.chain[0]);
  CHECK(chain[1] == hierarchy.intermediate.chain[0]);
  CHECK(chain[2] == hierarchy.root.chain[0]);
  CHECK(Certificate::chainToPem(chain) == pem);

  auto single = Certificate::fromPem(pem);
  REQUIRE_FALSE(single.isOk());
  CHECK(single.message() == "expected one certificate, found 3");

  auto der = valueOf(Certificate::fromDer(chain[0].toDer()));
  CHECK(der == chain[0]);
  CHECK(der.toPem() == chain[0].toPem());
}

TEST_CASE("Certificate parsing reports what is wrong with the input", "[controller][certs]") {
  auto none = Certificate::chainFromPem("hello");
  REQUIRE_FALSE(none.isOk());
  CHECK(none.message() == "no PEM certificate found (expected a \"CERTIFICATE\" block)");

  auto keyOnly =
      Certificate::chainFromPem(valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).toPem());
  REQUIRE_FALSE(keyOnly.isOk());
  CHECK(keyOnly.message() == "no PEM certificate found (expected a \"CERTIFICATE\" block)");

  auto notX509 = Certificate::chainFromPem(
      "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(notX509.isOk());
  CHECK(notX509.message().rfind("PEM block 1 is not a valid X.509 certificate", 0) == 0);

  auto badBase64 =
      Certificate::chainFromPem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(badBase64.isOk());
  CHECK(badBase64.message().rfind("PEM block 1 is malformed", 0) == 0);

  CHECK_FALSE(Certificate::fromDer("\x30\x03\x02\x01\x01").isOk());
}

namespace {

struct HostCase {
  const char* host;
  bool covered;
};

}  // namespace

TEST_CASE("Certificate coversHost follows RFC 6125 for names, wildcards and IP addresses",
          "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CertificateTemplate request = serverTemplate(
      {"www.contoso.com", "*.shop.contoso.com", "Mixed.Example.ORG", "*.test"}, nowSeconds());
  request.ipAddresses = {"10.0.0.1", "2001:db8::1"};
  auto certificate = valueOf(issueSelfSigned(request, key));

  auto hostCase = GENERATE(
      HostCase{"www.contoso.com", true}, HostCase{"WWW.Contoso.COM", true},  // case-insensitive
      HostCase{"www.contoso.com.", true},                                    // absolute form
      HostCase{"contoso.com", false}, HostCase{"w.www.contoso.com", false},
      HostCase{"a.shop.contoso.com", true},  // wildcard: one label
      HostCase{"A-B.Shop.Contoso.com", true},
      HostCase{"shop.contoso.com", false},      // wildcard needs a label
      HostCase{"a.b.shop.contoso.com", false},  // ... exactly one
      HostCase{".shop.contoso.com", false},     // ... non-empty
      HostCase{"*.shop.contoso.com", true},     // a binding's wildcard host
      HostCase{"*.contoso.com", false},         // not covered by a narrower SAN
      HostCase{"mixed.example.org", true},
      HostCase{"anything.test", false},  // "*.test": bare label
      HostCase{"10.0.0.1", true}, HostCase{"10.0.0.2", false}, HostCase{"2001:db8::1", true},
      HostCase{"2001:0db8:0:0:0:0:0:1", true},  // same address, other spelling
      HostCase{"[2001:db8::1]", true}, HostCase{"::1", false}, HostCase{"", false});
  CAPTURE(hostCase.host);
  CHECK(certificate.coversHost(hostCase.host) == hostCase.covered);

  // OpenSSL's own verifier agrees on every plain host name (it has no notion of a binding's
  // wildcard host, its IP check is separate, and it reads a leading dot as "any subdomain").
  std::string host = hostCase.host;
  if (!host.empty() && host.front() != '.' && host.find('*') == std::string::npos &&
      host.find(':') == std::string::npos &&
      host.find_first_not_of("0123456789.") != std::string::npos && host.back() != '.') {
    bool openssl = X509_check_host(certificate.native(), host.c_str(), host.size(),
                                   X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
    CHECK(openssl == hostCase.covered);
  }
}

TEST_CASE(
    "Certificate coversHost ignores partial-label wildcards and uses the CN only without SANs",
    "[controller][certs]") {
  TempDir dir;
  auto partial = makeCertificate(dir.path(), "partial", {"w*.contoso.com"});
  CHECK_FALSE(certificateFromFile(partial.cert).coversHost("www.contoso.com"));

  auto legacy =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", (dir.path() / "legacy.key").string(), "-days", "1", "-subj",
           "/CN=legacy.contoso.com"});
  REQUIRE(legacy.exitCode == 0);
  auto cnOnly = valueOf(Certificate::fromPem(legacy.out));
  CHECK(cnOnly.info().dnsNames.empty());
  CHECK(cnOnly.coversHost("legacy.contoso.com"));
  CHECK_FALSE(cnOnly.coversHost("www.contoso.com"));

  // With any SAN present the CN no longer counts.
  auto withSan = makeCertificate(dir.path(), "san", {"other.contoso.com"});
  auto sanCertificate = certificateFromFile(withSan.cert);
  CHECK(sanCertificate.info().commonName == "other.contoso.com");
  CHECK(sanCertificate.coversHost("other.contoso.com"));
}

TEST_CASE("dnsNameMatches compares one SAN with one host", "[controller][certs]") {
  CHECK(dnsNameMatches("*.contoso.com", "www.contoso.com"));
  CHECK_FALSE(dnsNameMatches("*.com", "contoso.com"));
  CHECK_FALSE(dnsNameMatches("*", "contoso"));
  CHECK_FALSE(dnsNameMatches("www.*.com", "www.contoso.com"));
  CHECK_FALSE(dnsNameMatches("*.*.com", "a.b.com"));
  CHECK_FALSE(dnsNameMatches("", ""));
}

TEST_CASE("Certificate validity is judged at an injected time", "[controller][certs]") {
  auto start = Clock::time_point(std::chrono::seconds(1'900'000'000));  // 2030-03-17
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto certificate = valueOf(
      issueSelfSigned(serverTemplate({"www.contoso.com"}, start, std::chrono::hours(1)), key));
  CHECK(certificate.info().notBefore == start);
  CHECK(certificate.info().notAfter == start + std::chrono::hours(1));

  using std::chrono::seconds;
  CHECK(certificate.validityAt(start - seconds(1)) == Validity::kNotYetValid);
  CHECK(certificate.validityAt(start) == Validity::kValid);
  CHECK(certificate.validityAt(start + std::chrono::minutes(30)) == Validity::kValid);
  CHECK(certificate.validityAt(start + std::chrono::hours(1)) == Validity::kValid);
  CHECK(certificate.validityAt(start + std::chrono::hours(1) + seconds(1)) == Validity::kExpired);
  CHECK(certificate.validityAt(Clock::now()) == Validity::kNotYetValid);
  CHECK(validityReason(Validity::kExpired) == "Expired");
  CHECK(validityReason(Validity::kNotYetValid) == "NotYetValid");

  // Renewal defaults to a third of the lifetime before notAfter.
  CHECK(renewalTime(certificate.info(), std::nullopt) == start + std::chrono::minutes(40));
  CHECK(renewalTime(certificate.info(), std::chrono::minutes(10)) ==
        start + std::chrono::minutes(50));
}

TEST_CASE("Usage names parse as the Certificate spec spells them", "[controller][certs]") {
  for (auto usage : {Usage::kDigitalSignature, Usage::kKeyEncipherment, Usage::kServerAuth,
                     Usage::kClientAuth, Usage::kCertSign, Usage::kCrlSign}) {
    CHECK(parseUsage(usageName(usage)) == usage);
  }
  CHECK(usageName(Usage::kServerAuth) == "server auth");
  CHECK_FALSE(parseUsage("serverAuth").has_value());
  CHECK(defaultUsages() ==
        std::vector<Usage>{Usage::kDigitalSignature, Usage::kKeyEncipherment, Usage::kServerAuth});
}

}  // namespace siteplane::certs
