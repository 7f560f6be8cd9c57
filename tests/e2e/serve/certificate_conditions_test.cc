// siteplane serve reports every certificate problem as the documented condition and reason on
// the object that has it, and keeps serving everything else; fixing the problem serves it.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

const std::string kHello = "hello from siteplane\n 200";

std::string importedCAYaml(const std::string& name, const TestCertificate& pem) {
  return importedCertificateYaml(name, pem) + "  isCA: true\n";
}

TEST_CASE(
    "siteplane serve issues a Certificate whose missing Issuer is created later, without "
    "touching the Certificate",
    "[e2e][serve][certificate]") {
  Server server;
  int https = freePort();
  int http = freePort();
  server.write("site.yaml", documents({siteYaml("www", server.root().string()),
                                       bindingYaml("plain", "www", "http", http)}));
  server.write(
      "late.yaml",
      documents({issuedCertificateYaml("late-tls", "late", {"late.example.test"}),
                 bindingYaml("late", "www", "https", https, "late.example.test", "late-tls")}));
  server.start();

  CHECK(waitUntil(
      [&] {
        return server.condition("Certificate", "late-tls", "Ready") == "False/IssuerNotFound";
      },
      kDeadline));
  CHECK(server.conditionMessage("Certificate", "late-tls", "Ready") ==
        "Issuer default/late not found");
  CHECK(waitUntil(
      [&] {
        return server.condition("Binding", "late", "ResolvedRefs") == "False/CertificateNotReady";
      },
      kDeadline));
  CHECK(server.condition("Binding", "late", "Programmed") == "False/RefsNotResolved");
  CHECK(server.conditionMessage("Binding", "late", "ResolvedRefs").find("IssuerNotFound") !=
        std::string::npos);
  CHECK(waitUntil([&] { return httpGet(http) == kHello; }, kDeadline));
  CHECK(servedThumbprint(https, "late.example.test").empty());
  auto before = server.object("Certificate", "late-tls");
  REQUIRE(before);

  // The Issuer's creation queues its Certificates (the blocked retry is 30 s, past the deadline).
  server.write("issuer.yaml", selfSignedIssuerYaml("late"));
  CHECK(waitUntil([&] { return server.condition("Issuer", "late", "Ready") == "True/SelfSigned"; },
                  kDeadline));
  REQUIRE(waitUntil(
      [&] { return server.condition("Certificate", "late-tls", "Ready") == "True/Issued"; },
      kDeadline));
  std::string thumbprint = server.statusField("Certificate", "late-tls", "thumbprint");
  CHECK(waitUntil([&] { return servedThumbprint(https, "late.example.test") == thumbprint; },
                  kDeadline));
  CHECK(waitUntil(
      [&] { return server.condition("Binding", "late", "Programmed") == "True/Programmed"; },
      kDeadline));
  auto after = server.object("Certificate", "late-tls");
  REQUIRE(after);
  CHECK((*after)["metadata"]["generation"] == (*before)["metadata"]["generation"]);
  CHECK(httpGet(http) == kHello);
}

TEST_CASE(
    "siteplane serve says why a CA Issuer cannot sign: its CA Certificate is missing, not a "
    "CA, or expired",
    "[e2e][serve][certificate][issuer]") {
  Server server;
  int http = freePort();
  auto tls = server.dir().path() / "tls";
  auto expiredCA =
      makeDatedCertificate(tls, "old-ca", {}, nullptr, "20200101000000Z", "20200201000000Z", true);
  auto notCA = makeCertificate(tls, "plain", {"plain.example.test"});
  std::vector<std::string> parts = {
      siteYaml("www", server.root().string()),
      bindingYaml("plain", "www", "http", http),
      selfSignedIssuerYaml("self"),
      // An issued leaf named as a CA, an imported CA:FALSE certificate that claims spec.isCA,
      // an imported CA certificate that has expired, and a name nothing has.
      issuedCertificateYaml("leaf", "self", {"leaf.example.test"}),
      importedCAYaml("claims-ca", notCA),
      importedCAYaml("old-ca", expiredCA),
      caIssuerYaml("no-ca", "absent"),
      caIssuerYaml("leaf-ca", "leaf"),
      caIssuerYaml("claims-ca", "claims-ca"),
      caIssuerYaml("expired-ca", "old-ca"),
  };
  for (const std::string issuer : {"no-ca", "leaf-ca", "claims-ca", "expired-ca"})
    parts.push_back(issuedCertificateYaml("from-" + issuer, issuer, {issuer + ".example.test"}));
  server.write("issuers.yaml", documents(parts));
  server.start();

  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"no-ca", {"False/CertificateNotFound", "CA Certificate default/absent not found"}},
      {"leaf-ca", {"False/NotCA", "Certificate default/leaf is not a CA (spec.isCA is false)"}},
      {"claims-ca", {"False/NotCA", "has no basicConstraints CA:TRUE"}},
      {"expired-ca", {"False/Expired", "CA Certificate default/old-ca has expired"}},
  };
  for (const auto& [issuer, want] : expected) {
    INFO(issuer);
    CHECK(waitUntil([&] { return server.condition("Issuer", issuer, "Ready") == want.first; },
                    kDeadline));
    CHECK(server.conditionMessage("Issuer", issuer, "Ready").find(want.second) !=
          std::string::npos);
    // Its Certificates wait, saying why (once the CA Certificate has been looked at).
    const std::string expectedMessage =
        "Issuer default/" + issuer + " cannot sign: " + want.first.substr(6) + ": ";
    CHECK(waitUntil(
        [&] {
          return server.condition("Certificate", "from-" + issuer, "Ready") ==
                     "False/IssuerNotReady" &&
                 server.conditionMessage("Certificate", "from-" + issuer, "Ready")
                         .rfind(expectedMessage, 0) == 0;
        },
        kDeadline));
  }
  CHECK(server.condition("Certificate", "old-ca", "Ready") == "False/Expired");
  CHECK(server.condition("Certificate", "claims-ca", "Ready") == "True/Imported");
  CHECK(waitUntil([&] { return server.condition("Issuer", "self", "Ready") == "True/SelfSigned"; },
                  kDeadline));
  CHECK(waitUntil([&] { return httpGet(http) == kHello; }, kDeadline));
}

TEST_CASE(
    "siteplane serve refuses imported certificates that are expired, not yet valid, keyed "
    "wrongly or chained to a stranger, and serves the others",
    "[e2e][serve][certificate][import]") {
  Server server;
  int port = freePort();
  auto tls = server.dir().path() / "tls";
  auto good = makeCertificate(tls, "good", {"good.example.test"});
  auto expired = makeDatedCertificate(tls, "expired", {"expired.example.test"}, nullptr,
                                      "20200101000000Z", "20200201000000Z");
  auto future = makeDatedCertificate(tls, "future", {"future.example.test"}, nullptr,
                                     "20990101000000Z", "20991231000000Z");
  auto mismatch = makeCertificate(tls, "mismatch", {"mismatch.example.test"});
  auto ca = makeCertificate(tls, "ca", {}, nullptr, true);
  auto chained = makeCertificate(tls, "chained", {"chained.example.test"}, &ca);
  auto stranger = makeCertificate(tls, "stranger", {"stranger.example.test"});
  // The chain listed CA first: put in order, not refused. A stranger in the chain is refused.
  TestCertificate reversed{
      server.dir().write("tls/reversed.crt", readFile(ca.cert) + readFile(chained.cert)),
      chained.key, chained.thumbprint};
  TestCertificate strangerInChain{
      server.dir().write("tls/stranger-chain.crt",
                         readFile(chained.cert) + readFile(stranger.cert)),
      chained.key, chained.thumbprint};
  TestCertificate wrongKey{mismatch.cert, good.key, mismatch.thumbprint};

  const std::vector<std::pair<std::string, TestCertificate>> imports = {
      {"good", good},         {"expired", expired},  {"future", future},
      {"mismatch", wrongKey}, {"chained", reversed}, {"stranger", strangerInChain}};
  std::vector<std::string> parts = {siteYaml("www", server.root().string())};
  for (const auto& [name, pem] : imports) {
    parts.push_back(importedCertificateYaml(name + "-tls", pem));
    std::string host = (name == "stranger" ? "chained2" : name) + ".example.test";
    parts.push_back(bindingYaml(name, "www", "https", port, host, name + "-tls"));
  }
  server.write("imports.yaml", documents(parts));
  server.start();

  const std::map<std::string, std::pair<std::string, std::string>> refused = {
      {"expired", {"False/Expired", "expired at 2020-02-01T00:00:00Z"}},
      {"future", {"False/NotYetValid", "is not valid before 2099-01-01T00:00:00Z"}},
      {"mismatch", {"False/KeyMismatch", "the private key matches none of the 1 certificate(s)"}},
      {"stranger",
       {"False/InvalidChain", "(thumbprint " + stranger.thumbprint + ") is not part of the chain"}},
  };
  for (const auto& [name, want] : refused) {
    INFO(name);
    CHECK(waitUntil(
        [&] { return server.condition("Certificate", name + "-tls", "Ready") == want.first; },
        kDeadline));
    CHECK(server.conditionMessage("Certificate", name + "-tls", "Ready").find(want.second) !=
          std::string::npos);
    CHECK(waitUntil(
        [&] {
          return server.condition("Binding", name, "ResolvedRefs") == "False/CertificateNotReady" &&
                 server.condition("Binding", name, "Programmed") == "False/RefsNotResolved";
        },
        kDeadline));
  }
  // An expired or not yet valid certificate is described, never Ready.
  CHECK(server.statusField("Certificate", "expired-tls", "thumbprint") == expired.thumbprint);
  CHECK(server.statusField("Certificate", "future-tls", "notBefore") == "2099-01-01T00:00:00Z");

  for (const std::string name : {"good", "chained"}) {
    INFO(name);
    CHECK(waitUntil(
        [&] { return server.condition("Binding", name, "Programmed") == "True/Programmed"; },
        kDeadline));
    CHECK(server.condition("Certificate", name + "-tls", "Ready") == "True/Imported");
  }
  CHECK(servedThumbprint(port, "good.example.test") == good.thumbprint);
  auto chain = servedChain(port, "chained.example.test");
  REQUIRE(chain.size() == 2);
  CHECK(factsOf(chain[0]).thumbprint == chained.thumbprint);
  CHECK(factsOf(chain[1]).thumbprint == ca.thumbprint);
}

TEST_CASE(
    "siteplane serve reports a missing certificate and a certificate that does not cover the "
    "host, wildcards included, and serves each once fixed",
    "[e2e][serve][certificate][binding]") {
  Server server;
  int port = freePort();
  auto manifest = [&](bool fixed) {
    std::vector<std::string> parts = {
        siteYaml("www", server.root().string()),
        selfSignedIssuerYaml("self"),
        issuedCertificateYaml("wild-tls", "self", {"*.example.test"}),
        issuedCertificateYaml(
            "exact-tls", "self",
            fixed ? std::vector<std::string>{"other.example.test", "exact.example.test"}
                  : std::vector<std::string>{"other.example.test"}),
        bindingYaml("one-label", "www", "https", port, "a.example.test", "wild-tls"),
        bindingYaml("apex", "www", "https", port, "example.test", "wild-tls"),
        bindingYaml("two-labels", "www", "https", port, "a.b.example.test", "wild-tls"),
        bindingYaml("exact", "www", "https", port, "exact.example.test", "exact-tls"),
        bindingYaml("missing", "www", "https", port, "missing.example.test", "missing-tls"),
    };
    if (fixed)
      parts.push_back(issuedCertificateYaml("missing-tls", "self", {"missing.example.test"}));
    return documents(parts);
  };
  server.write("site.yaml", manifest(false));
  server.start();
  const pid_t pid = server.process().pid();

  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "one-label", "Programmed") == "True/Programmed"; },
      kDeadline));
  std::string wild = server.statusField("Certificate", "wild-tls", "thumbprint");
  CHECK(servedThumbprint(port, "a.example.test") == wild);
  for (const std::string name : {"apex", "two-labels", "exact"}) {
    INFO(name);
    CHECK(waitUntil(
        [&] {
          return server.condition("Binding", name, "ResolvedRefs") ==
                 "False/CertificateHostMismatch";
        },
        kDeadline));
    CHECK(server.condition("Binding", name, "Programmed") == "False/RefsNotResolved");
  }
  CHECK(server.conditionMessage("Binding", "two-labels", "ResolvedRefs")
            .find("does not cover host a.b.example.test: its names are [*.example.test]") !=
        std::string::npos);
  CHECK(waitUntil(
      [&] {
        return server.condition("Binding", "missing", "ResolvedRefs") ==
               "False/CertificateNotFound";
      },
      kDeadline));
  CHECK(server.conditionMessage("Binding", "missing", "ResolvedRefs") ==
        "Certificate default/missing-tls not found");

  // Fixed: the missing Certificate is created, the exact one re-issued with the name.
  server.write("site.yaml", manifest(true));
  for (const std::string name : {"exact", "missing"}) {
    INFO(name);
    CHECK(waitUntil(
        [&] { return server.condition("Binding", name, "Programmed") == "True/Programmed"; },
        kDeadline));
    std::string host = name + ".example.test";
    std::string thumbprint = server.statusField("Certificate", name + "-tls", "thumbprint");
    CHECK(waitUntil([&] { return servedThumbprint(port, host) == thumbprint; }, kDeadline));
  }
  CHECK(servedThumbprint(port, "a.example.test") == wild);
  CHECK(server.condition("Binding", "apex", "ResolvedRefs") == "False/CertificateHostMismatch");
  CHECK(server.process().pid() == pid);
}

}  // namespace
}  // namespace siteplane::testing
