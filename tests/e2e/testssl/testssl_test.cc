// testssl.sh against the TLS configuration `siteplane serve` uses when a manifest says nothing
// about TLS: one https binding whose certificate comes from a private CA Issuer. Any finding of
// severity MEDIUM or worse fails, except those listed in kPrivateCaFindings, which a private
// test CA causes by construction and a public CA would not.

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

// Finding id -> why a private test CA causes it. Nothing else MEDIUM/HIGH/CRITICAL is accepted.
const std::map<std::string, std::string> kPrivateCaFindings = {
    // "Neither CRL nor OCSP URI provided": the CA Issuer signs offline and publishes no
    // revocation endpoint, as every private CA without a PKI behind it. A public CA's
    // certificates carry an OCSP URI.
    {"cert_revocation", "a private CA publishes no CRL or OCSP responder"},
};

// The manifest: a self-signed root, a CA Issuer on it, a leaf for localhost, one site and one
// https binding with no TLS settings at all — the defaults are what is scanned.
std::string manifest(int port, const std::string& root) {
  return documents({selfSignedIssuerYaml("self"), caCertificateYaml("test-ca", "self"),
                    caIssuerYaml("test-ca", "test-ca"),
                    issuedCertificateYaml("www", "test-ca", {"localhost"}), siteYaml("www", root),
                    bindingYaml("www-https", "www", "https", port, "", "www")});
}

}  // namespace

TEST_CASE(
    "testssl.sh finds nothing MEDIUM or worse in the default TLS configuration beyond what "
    "a private CA causes",
    "[e2e][testssl]") {
  Server server;
  int port = freePort();
  server.write("site.yaml", manifest(port, server.root().string()));
  server.start();
  REQUIRE(waitUntil([&] { return !servedThumbprint(port, "localhost").empty(); }, kDeadline));
  // The root the leaf chains to, so that testssl checks the chain instead of reporting it
  // untrusted (--add-ca): only what a private CA cannot avoid stays in the allowlist.
  auto caCertificate = server.state() / "certificates" / "default" / "test-ca" / "tls.crt";
  REQUIRE(std::filesystem::exists(caCertificate));

  auto report = server.dir().path() / "testssl.json";
  // Protocols, cipher categories, forward secrecy, server preference, server defaults
  // (certificate, tickets, resumption) and every vulnerability check: the TLS part of testssl's
  // default run. HTTP header checks (-h) are about the sites' content, not the TLS defaults.
  // --ip: scan 127.0.0.1 while sending SNI "localhost"; --nodns none: no lookups (CAA, MX).
  auto result = run({"testssl",
                     "--quiet",
                     "--color",
                     "0",
                     "--warnings",
                     "off",
                     "--sneaky",
                     "--openssl",
                     "/usr/bin/openssl",
                     "--ip",
                     "127.0.0.1",
                     "--nodns",
                     "none",
                     "--connect-timeout",
                     "10",
                     "--openssl-timeout",
                     "10",
                     "--add-ca",
                     caCertificate.string(),
                     "--jsonfile",
                     report.string(),
                     "-p",
                     "-s",
                     "-f",
                     "-P",
                     "-S",
                     "-U",
                     "localhost:" + std::to_string(port)},
                    "", std::chrono::minutes(12));
  INFO("testssl exit " << result.exitCode << "\n" << result.out << result.err);
  REQUIRE(std::filesystem::exists(report));
  auto findings = json::parse(readFile(report), nullptr, false);
  REQUIRE(findings.is_array());

  std::set<std::string> ids;
  std::string unexpected;
  for (const auto& finding : findings) {
    std::string id = finding.value("id", "");
    std::string severity = finding.value("severity", "");
    ids.insert(id);
    bool bad = severity == "MEDIUM" || severity == "HIGH" || severity == "CRITICAL" ||
               severity == "FATAL" || id == "scanProblem";
    if (bad && !kPrivateCaFindings.count(id)) {
      unexpected += severity + " " + id + ": " + finding.value("finding", "") + "\n";
    }
  }
  INFO("testssl findings: " << findings.dump(1));
  // The scan really ran: the protocol, cipher, certificate and vulnerability sections reported.
  for (const char* id : {"TLS1_3", "TLS1_2", "SSLv3", "cipher_order", "cert_chain_of_trust",
                         "heartbleed", "ROBOT", "PFS"}) {
    CHECK(ids.count(id) == 1);
  }
  CHECK(unexpected == "");
}

}  // namespace siteplane::testing
