#pragma once

// Shared by the controller/certs tests: unwrapping results, making CA hierarchies with the code
// under test, and reading what the openssl CLI says about a certificate.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "controller/certs/certificate.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"
#include "tests/support/test_support.h"

namespace siteplane::certs::testing {

using Clock = std::chrono::system_clock;
using siteplane::testing::run;
using siteplane::testing::TempDir;

// The value of an ok result; fails the test with the error message otherwise.
template <typename T>
T valueOf(Result<T> result) {
  if (!result.isOk()) FAIL("unexpected error: " << result.message());
  return std::move(result).value();
}

inline void requireOk(const Status& status) {
  if (!status.isOk()) FAIL("unexpected error: " << status.message());
}

// Whole seconds, as X.509 stores times.
inline Clock::time_point nowSeconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(Clock::now());
}

inline CertificateTemplate caTemplate(const std::string& commonName, Clock::time_point start,
                                      std::chrono::hours lifetime = std::chrono::hours(24 * 365)) {
  CertificateTemplate request;
  request.commonName = commonName;
  request.isCA = true;
  request.usages = {Usage::kDigitalSignature, Usage::kCertSign, Usage::kCrlSign};
  request.validFor(start, lifetime);
  return request;
}

inline CertificateTemplate serverTemplate(std::vector<std::string> dnsNames,
                                          Clock::time_point start,
                                          std::chrono::hours lifetime = std::chrono::hours(24 *
                                                                                           90)) {
  CertificateTemplate request;
  request.dnsNames = std::move(dnsNames);
  request.validFor(start, lifetime);
  return request;
}

// A root CA, an intermediate CA and a leaf for `dnsNames`, all ECDSA P-256.
struct Hierarchy {
  CertificateBundle root;
  CertificateBundle intermediate;
  CertificateBundle leaf;
};

inline Hierarchy makeHierarchy(std::vector<std::string> dnsNames,
                               Clock::time_point start = nowSeconds()) {
  auto rootKey = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto root = valueOf(issueSelfSigned(caTemplate("Siteplane Test Root", start), rootKey));
  auto intermediateKey = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto intermediate = valueOf(issueSignedBy(caTemplate("Siteplane Test Intermediate", start),
                                            intermediateKey.publicKey(), root, rootKey, start));
  auto leafKey = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto leaf = valueOf(issueSignedBy(serverTemplate(std::move(dnsNames), start), leafKey.publicKey(),
                                    intermediate, intermediateKey, start));
  return {CertificateBundle{{root}, rootKey},
          CertificateBundle{{intermediate, root}, intermediateKey},
          CertificateBundle{{leaf, intermediate, root}, leafKey}};
}

// `openssl x509 -text -noout` of `certificate`, with every run of whitespace collapsed to one
// space so multi-line fields read as "X509v3 Basic Constraints: critical CA:TRUE".
inline std::string opensslText(const Certificate& certificate) {
  auto result = run({"openssl", "x509", "-text", "-noout"}, certificate.toPem());
  REQUIRE(result.exitCode == 0);
  std::string flat;
  for (char c : result.out) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (flat.empty() || flat.back() == ' ')) continue;
    flat += space ? ' ' : c;
  }
  return flat;
}

// The hex digits of `openssl x509 -fingerprint -<digest>`, colons removed.
inline std::string opensslFingerprint(const Certificate& certificate, const std::string& digest) {
  auto result =
      run({"openssl", "x509", "-noout", "-fingerprint", "-" + digest}, certificate.toPem());
  REQUIRE(result.exitCode == 0);
  std::string hex;
  for (char c : result.out.substr(result.out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
  }
  return hex;
}

}  // namespace siteplane::certs::testing
