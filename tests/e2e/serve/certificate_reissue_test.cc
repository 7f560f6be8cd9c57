// siteplane serve re-issues a Certificate whose spec changes, in the same process, and serves
// exactly what the Certificate's status describes.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

struct Issued {
  std::string name;  // Certificate
  std::string host;  // its first dnsName, the SNI name of its binding
  std::string issuer;
  std::string extraSpec;
};

std::string manifest(const Server& server, int port, const std::vector<Issued>& certificates,
                     const std::string& addedName) {
  std::vector<std::string> parts = {selfSignedIssuerYaml("self"), caCertificateYaml("root", "self"),
                                    caIssuerYaml("ca", "root"),
                                    siteYaml("www", server.root().string())};
  for (const auto& certificate : certificates) {
    std::vector<std::string> names = {certificate.host};
    if (!addedName.empty()) names.push_back(addedName + "." + certificate.host);
    parts.push_back(
        issuedCertificateYaml(certificate.name, certificate.issuer, names, certificate.extraSpec));
    parts.push_back(
        bindingYaml(certificate.name, "www", "https", port, certificate.host, certificate.name));
  }
  return documents(parts);
}

TEST_CASE(
    "siteplane serve re-issues a certificate whose dnsNames change and serves the thumbprint "
    "its status shows, keeping the key unless rotationPolicy is Always",
    "[e2e][serve][certificate]") {
  Server server;
  int port = freePort();
  const std::vector<Issued> certificates = {
      {"self-tls", "self.example.test", "self", ""},
      {"ca-tls", "ca.example.test", "ca", ""},
      {"rotated-tls", "rotated.example.test", "ca", "  privateKey:\n    rotationPolicy: Always\n"},
  };
  server.write("site.yaml", manifest(server, port, certificates, ""));
  server.start();
  const pid_t pid = server.process().pid();

  struct Before {
    std::string thumbprint;
    CertificateFacts served;
  };
  std::map<std::string, Before> before;
  for (const auto& certificate : certificates) {
    INFO(certificate.name);
    REQUIRE(waitUntil(
        [&] {
          return server.condition("Binding", certificate.name, "Programmed") == "True/Programmed";
        },
        kDeadline));
    std::string thumbprint = server.statusField("Certificate", certificate.name, "thumbprint");
    auto chain = servedChain(port, certificate.host);
    REQUIRE(!chain.empty());
    before[certificate.name] = {thumbprint, factsOf(chain.front())};
    CHECK(before[certificate.name].served.thumbprint == thumbprint);
  }
  const std::string rootThumbprint = server.statusField("Certificate", "root", "thumbprint");

  // One more name on every certificate.
  server.write("site.yaml", manifest(server, port, certificates, "new"));
  for (const auto& certificate : certificates) {
    INFO(certificate.name);
    const std::string added = "new." + certificate.host;
    std::string thumbprint;
    CertificateFacts served;
    // Re-issued, Ready, and what the status says is what a new handshake gets.
    REQUIRE(waitUntil(
        [&] {
          thumbprint = server.statusField("Certificate", certificate.name, "thumbprint");
          if (thumbprint.empty() || thumbprint == before[certificate.name].thumbprint) return false;
          auto chain = servedChain(port, certificate.host);
          if (chain.empty()) return false;
          served = factsOf(chain.front());
          return served.thumbprint == thumbprint;
        },
        kDeadline));
    CHECK(server.condition("Certificate", certificate.name, "Ready") == "True/Issued");
    CHECK(served.subjectAltName.find("DNS:" + added) != std::string::npos);
    CHECK(served.subjectAltName.find("DNS:" + certificate.host) != std::string::npos);
    CHECK(server.statusField("Certificate", certificate.name, "dnsNames").find(added) !=
          std::string::npos);
    if (certificate.extraSpec.empty()) {
      CHECK(served.publicKeyHash == before[certificate.name].served.publicKeyHash);
    } else {
      CHECK(served.publicKeyHash != before[certificate.name].served.publicKeyHash);
    }
    // The binding reports the thumbprint it serves.
    CHECK(waitUntil(
        [&] {
          return server.statusField("Binding", certificate.name, "servedThumbprint") == thumbprint;
        },
        kDeadline));
  }
  // The CA-issued leaves still chain to the same CA, which was not touched.
  auto chain = servedChain(port, "ca.example.test");
  REQUIRE(chain.size() == 2);
  CHECK(factsOf(chain[1]).thumbprint == rootThumbprint);
  CHECK(server.statusField("Certificate", "root", "thumbprint") == rootThumbprint);

  CHECK(server.process().running());
  CHECK(server.process().pid() == pid);
}

}  // namespace
}  // namespace siteplane::testing
