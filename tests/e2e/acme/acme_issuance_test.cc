#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "tests/e2e/acme/pebble_fixture.h"
#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

constexpr std::chrono::seconds kIssueDeadline{60};

// A Site that requires SSL, its http binding (where the VA asks for http-01) and its https
// binding for `name` with the Certificate `web` of the ACME Issuer `pebble`.
std::string acmeSiteYaml(const Server& server, const Pebble& pebble, int httpPort, int httpsPort,
                         const std::string& name) {
  return documents(
      {"apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: web\n"
       "spec:\n  root: " +
           server.root().string() + "\n  ssl:\n    requireSSL: true\n",
       bindingYaml("web-http", "web", "http", httpPort),
       bindingYaml("web-https", "web", "https", httpsPort, name, "web"),
       acmeIssuerYaml("pebble", pebble), issuedCertificateYaml("web", "pebble", {name})});
}

// Whether `name` on 127.0.0.1:port serves a certificate that verifies against `rootFile` alone
// (openssl s_client with the name checked).
bool servesTrusted(int port, const std::string& name, const std::string& rootFile) {
  auto handshake =
      run({"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", port), "-servername",
           name, "-CAfile", rootFile, "-verify_return_error", "-verify_hostname", name},
          "", std::chrono::seconds(10));
  return handshake.exitCode == 0 &&
         handshake.out.find("Verify return code: 0 (ok)") != std::string::npos;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::seconds deadline = kIssueDeadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return predicate();
}

std::string conditionOf(const std::optional<json>& object, const std::string& type) {
  if (!object) return "";
  const json conditions = object->value(json::json_pointer("/status/conditions"), json::array());
  for (const auto& condition : conditions)
    if (condition.value("type", "") == type)
      return condition.value("status", "") + "/" + condition.value("reason", "") + ": " +
             condition.value("message", "");
  return "";
}

TEST_CASE("An ACME Issuer orders a certificate over http-01 that is served and trusted",
          "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .nonceRejectPercent = 0});
  REQUIRE_FALSE(pebble.rootPem().empty());
  Server server;
  server.write("site.yaml", acmeSiteYaml(server, pebble, httpPort, httpsPort, "www.acme.test"));
  server.start();

  const std::string root = pebble.rootFile();
  if (!eventually([&] { return servesTrusted(httpsPort, "www.acme.test", root); }))
    FAIL(server.log() + "\n---- pebble ----\n" + pebble.log());
  auto curl = run({"curl", "-s", "--cacert", root, "--resolve",
                   fmt::format("www.acme.test:{}:127.0.0.1", httpsPort),
                   fmt::format("https://www.acme.test:{}/", httpsPort)});
  CHECK(curl.exitCode == 0);
  CHECK(curl.out == "hello from siteplane\n");

  // The account is in the Issuer's status; the Certificate says who issued it, and the order is
  // gone from status once done.
  auto issuer = server.object("Issuer", "pebble");
  REQUIRE(issuer);
  CHECK(conditionOf(issuer, "Ready").rfind("True/ACMEAccountRegistered", 0) == 0);
  CHECK((*issuer)["status"]["acme"].value("uri", "").find("127.0.0.1") != std::string::npos);
  REQUIRE(eventually([&] {
    return conditionOf(server.object("Certificate", "web"), "Ready").rfind("True/Issued", 0) == 0;
  }));
  auto certificate = server.object("Certificate", "web");
  CHECK_FALSE((*certificate)["status"].contains("acme"));
  CHECK(servedThumbprint(httpsPort, "www.acme.test") ==
        (*certificate)["status"].value("thumbprint", ""));
  CHECK(pebble.count("Issued certificate serial") == 1);

  // requireSSL still refuses plain http for everything but the challenges.
  CHECK(httpGet(httpPort, "www.acme.test").find("403") != std::string::npos);
  // The account key is private.
  auto key = server.state() / "acme" / "accounts" / "default" / "pebble.key";
  REQUIRE(std::filesystem::exists(key));
  CHECK((std::filesystem::status(key).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  CHECK(server.log().find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE("An ACME Issuer orders a certificate over tls-alpn-01 on the https binding itself",
          "[e2e][acme]") {
  const int httpsPort = freePort();
  // The VA's tls-alpn-01 connections go to the https port, which another site's binding (with a
  // self-signed certificate) keeps open; there is no http binding at all.
  Pebble pebble({.httpPort = freePort(), .tlsPort = httpsPort, .nonceRejectPercent = 0});
  Server server;
  server.write(
      "site.yaml",
      documents({siteYaml("web", server.root().string()), selfSignedIssuerYaml(),
                 issuedCertificateYaml("other", "self", {"other.acme.test"}),
                 bindingYaml("other-https", "web", "https", httpsPort, "other.acme.test", "other"),
                 bindingYaml("web-https", "web", "https", httpsPort, "alpn.acme.test", "web"),
                 acmeIssuerYaml("pebble", pebble,
                                "    solvers:\n      - selector:\n          dnsZones: "
                                "[acme.test]\n        tlsAlpn01: {}\n"),
                 issuedCertificateYaml("web", "pebble", {"alpn.acme.test"})}));
  server.start();
  const std::string root = pebble.rootFile();
  if (!eventually([&] { return servesTrusted(httpsPort, "alpn.acme.test", root); }))
    FAIL(server.log() + "\n---- pebble ----\n" + pebble.log());
  CHECK(server.log().find("type=tls-alpn-01") != std::string::npos);
  // Once issued, acme-tls/1 gets no challenge certificate any more: the handshake is refused
  // (no such protocol) or made with the site's certificate, never with a self-signed one.
  auto probe =
      run({"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", httpsPort), "-servername",
           "alpn.acme.test", "-alpn", "acme-tls/1", "-CAfile", root, "-verify_return_error"},
          "", std::chrono::seconds(10));
  CHECK(probe.out.find("1.3.6.1.5.5.7.1.31") == std::string::npos);
  CHECK(probe.out.find("ALPN protocol: acme-tls/1") == std::string::npos);
}

TEST_CASE("An ACME server that requires external account binding gets one", "[e2e][acme]") {
  // Debian's example EAB configuration of pebble.
  const std::string keyId = "kid-1";
  const std::string hmacKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort,
                 .tlsPort = freePort(),
                 .nonceRejectPercent = 0,
                 .eabKeyId = keyId,
                 .eabHmacKey = hmacKey});
  Server server;
  std::string site = acmeSiteYaml(server, pebble, httpPort, httpsPort, "eab.acme.test");

  SECTION("without one the Issuer says what is missing") {
    server.write("site.yaml", site);
    server.start();
    REQUIRE(eventually([&] {
      return conditionOf(server.object("Issuer", "pebble"), "Ready")
                 .rfind("False/ACMERegistrationFailed", 0) == 0;
    }));
    CHECK(conditionOf(server.object("Issuer", "pebble"), "Ready").find("externalAccountBinding") !=
          std::string::npos);
  }
  SECTION("with the CA's key id and HMAC key the account is bound and the certificate issued") {
    const auto keyFile = server.dir().write("eab.key", hmacKey + "\n");
    const std::string binding = "    externalAccountBinding:\n      keyID: " + keyId +
                                "\n      keyFile: " + keyFile.string() + "\n";
    site.replace(site.find("    http01: {}\n"), 0, binding);
    server.write("site.yaml", site);
    server.start();
    if (!eventually([&] { return servesTrusted(httpsPort, "eab.acme.test", pebble.rootFile()); }))
      FAIL(server.log() + "\n---- pebble ----\n" + pebble.log());
    CHECK(pebble.log().find("Successful newAccount Binding with CA using kid \"kid-1\"") !=
          std::string::npos);
  }
}

TEST_CASE("An ACME certificate is renewed before it expires and the new one is served",
          "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  // 45 s certificates: renewal comes a third of the lifetime before notAfter (spec.renewBefore,
  // 720h by default, is longer than the certificate lives).
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .validitySeconds = 45});
  Server server;
  server.write("site.yaml", acmeSiteYaml(server, pebble, httpPort, httpsPort, "renew.acme.test"));
  server.start();
  const std::string root = pebble.rootFile();
  if (!eventually([&] { return servesTrusted(httpsPort, "renew.acme.test", root); }))
    FAIL(server.log());
  const std::string first = servedThumbprint(httpsPort, "renew.acme.test");
  REQUIRE_FALSE(first.empty());
  std::string second;
  if (!eventually(
          [&] {
            second = servedThumbprint(httpsPort, "renew.acme.test");
            return !second.empty() && second != first;
          },
          std::chrono::seconds(90)))
    FAIL(server.log());
  CHECK(servesTrusted(httpsPort, "renew.acme.test", root));
  CHECK(pebble.count("Issued certificate serial") >= 2);
  bool renewed = false;
  for (const auto& [name, event] : server.objects("Event"))
    if (event.value("reason", "") == "Renewed") renewed = true;
  CHECK(renewed);
}

TEST_CASE("A Certificate deleted in the middle of its order leaves no challenge answered",
          "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  // The VA waits up to 20 s before it validates: the order stays pending meanwhile.
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .vaSleepSeconds = 20});
  Server server;
  const std::string site = acmeSiteYaml(server, pebble, httpPort, httpsPort, "gone.acme.test");
  server.write("site.yaml", site);
  server.start();
  std::string token, keyAuthorization;
  REQUIRE(eventually([&] {
    auto certificate = server.object("Certificate", "web");
    if (!certificate) return false;
    const json authorizations =
        certificate->value(json::json_pointer("/status/acme/order/authorizations"), json::array());
    for (const auto& authorization : authorizations) {
      token = authorization.value("token", "");
      keyAuthorization = authorization.value("keyAuthorization", "");
    }
    return !token.empty();
  }));
  auto challenge = [&] {
    return run({"curl", "-s", "-H", "Host: gone.acme.test",
                fmt::format("http://127.0.0.1:{}/.well-known/acme-challenge/{}", httpPort, token)})
        .out;
  };
  REQUIRE(eventually([&] { return challenge() == keyAuthorization + "\n"; }));
  // The token is no key to other sites: another host name, or the token with a path around it,
  // gets no answer.
  auto asked = [&](const std::string& host, const std::string& path) {
    return run({"curl", "-s", "--path-as-is", "-H", "Host: " + host,
                fmt::format("http://127.0.0.1:{}{}", httpPort, path)})
        .out;
  };
  CHECK(asked("other.acme.test", "/.well-known/acme-challenge/" + token).find(keyAuthorization) ==
        std::string::npos);
  CHECK(asked("gone.acme.test", "/.well-known/acme-challenge/" + token + "/x")
            .find(keyAuthorization) == std::string::npos);
  CHECK(
      asked("gone.acme.test", "/.well-known/acme-challenge/x/../" + token).find(keyAuthorization) ==
      std::string::npos);

  // The Certificate goes; the site and its bindings stay.
  server.write("site.yaml", site.substr(0, site.rfind("---\n")));
  REQUIRE(eventually([&] { return !server.object("Certificate", "web"); }));
  CHECK(eventually([&] { return challenge().find(keyAuthorization) == std::string::npos; },
                   std::chrono::seconds(10)));
  CHECK_FALSE(
      std::filesystem::exists(server.state() / "acme" / "pending-keys" / "default" / "web.key"));
}

TEST_CASE("An ACME server that cannot be reached leaves the Issuer not ready, with the reason",
          "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort()});
  Server server;
  std::string site = acmeSiteYaml(server, pebble, httpPort, httpsPort, "down.acme.test");
  // The same Issuer, pointed at a port where nothing listens.
  const std::string unreachable = fmt::format("https://127.0.0.1:{}/dir", freePort());
  site.replace(site.find(pebble.directoryUrl()), pebble.directoryUrl().size(), unreachable);
  server.write("site.yaml", site);
  server.start();
  REQUIRE(eventually([&] {
    return conditionOf(server.object("Issuer", "pebble"), "Ready")
               .rfind("False/ACMERegistrationFailed", 0) == 0;
  }));
  CHECK(conditionOf(server.object("Issuer", "pebble"), "Ready").find(unreachable) !=
        std::string::npos);
  REQUIRE(eventually([&] {
    return conditionOf(server.object("Certificate", "web"), "Ready")
               .rfind("False/IssuerNotReady", 0) == 0;
  }));
  // Tried again after 10 s, 20 s, ...: a handful of attempts in 15 s, not thousands.
  std::this_thread::sleep_for(std::chrono::seconds(15));
  int attempts = 0;
  const std::string log = server.log();
  for (size_t at = log.find("reconcile_failed key=Issuer"); at != std::string::npos;
       at = log.find("reconcile_failed key=Issuer", at + 1))
    ++attempts;
  CHECK(attempts <= 3);
}

TEST_CASE("A wildcard certificate is ordered over dns-01 through RFC 2136 updates to BIND",
          "[e2e][acme]") {
  Bind bind("wild.test");
  const int httpsPort = freePort();
  Pebble pebble({.httpPort = freePort(), .tlsPort = freePort(), .dnsServer = bind.address()});
  Server server;
  const auto secretFile = server.dir().write("tsig.secret", bind.secret() + "\n");
  const std::string solvers =
      "    solvers:\n      - selector:\n          dnsZones: [wild.test]\n        dns01:\n"
      "          rfc2136:\n            nameserver: \"" +
      bind.address() +
      "\"\n            tsigKeyName: acme-test-key\n            tsigAlgorithm: HMACSHA256\n"
      "            tsigSecretFile: " +
      secretFile.string() + "\n";
  server.write(
      "site.yaml",
      documents({siteYaml("web", server.root().string()),
                 bindingYaml("wild-https", "web", "https", httpsPort, "*.wild.test", "web"),
                 acmeIssuerYaml("pebble", pebble, solvers),
                 issuedCertificateYaml("web", "pebble", {"*.wild.test", "wild.test"})}));
  server.start();
  const std::string root = pebble.rootFile();
  if (!eventually([&] { return servesTrusted(httpsPort, "a.wild.test", root); }))
    FAIL("---- named ----\n" + bind.log());
  CHECK(servesTrusted(httpsPort, "b.wild.test", root));
  CHECK(factsOf(servedChain(httpsPort, "a.wild.test").front()).subjectAltName.find("*.wild.test") !=
        std::string::npos);
  CHECK(server.log().find("acme_dns01_record_added") != std::string::npos);
  // The records are taken away once validated; the secret never reaches the log.
  CHECK(eventually([&] { return bind.txt("_acme-challenge.wild.test").empty(); },
                   std::chrono::seconds(10)));
  CHECK(server.log().find(bind.secret()) == std::string::npos);
}

TEST_CASE("No ACME certificate is ordered for a host another namespace's Binding claims",
          "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort()});
  Server server;
  // tenant-a serves shop.acme.test; default asks an ACME CA for a certificate of it.
  const std::string tenantSite =
      "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: shop\n  namespace: "
      "tenant-a\nspec:\n  root: " +
      server.root().string() + "\n";
  std::string tenantBinding = bindingYaml("shop-http", "shop", "http", httpPort, "shop.acme.test");
  tenantBinding.replace(tenantBinding.find("  name: shop-http\n"), 18,
                        "  name: shop-http\n  namespace: tenant-a\n");
  server.write("tenant.yaml", documents({tenantSite, tenantBinding}));
  server.write(
      "site.yaml",
      documents({siteYaml("web", server.root().string()),
                 bindingYaml("web-https", "web", "https", httpsPort, "shop.acme.test", "web"),
                 acmeIssuerYaml("pebble", pebble),
                 issuedCertificateYaml("web", "pebble", {"shop.acme.test"})}));
  server.start();
  REQUIRE(eventually([&] {
    return conditionOf(server.object("Certificate", "web"), "Issuing").rfind("False/Failed", 0) ==
           0;
  }));
  CHECK(conditionOf(server.object("Certificate", "web"), "Issuing")
            .find("Binding tenant-a/shop-http of another namespace") != std::string::npos);
  CHECK(pebble.count("Added order") == 0);
}

TEST_CASE("preferredChain picks the alternate chain whose root it names", "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .alternateRoots = 1});
  const std::string alternateRoot = pebble.rootPem(1);
  REQUIRE_FALSE(alternateRoot.empty());
  auto subject =
      run({"openssl", "x509", "-noout", "-subject", "-nameopt", "multiline"}, alternateRoot);
  const size_t cn = subject.out.find("commonName");
  REQUIRE(cn != std::string::npos);
  std::string commonName = subject.out.substr(subject.out.find("= ", cn) + 2);
  commonName = commonName.substr(0, commonName.find('\n'));
  Server server;
  std::string site = acmeSiteYaml(server, pebble, httpPort, httpsPort, "chain.acme.test");
  site.replace(site.find("    http01: {}\n"), 0, "    preferredChain: " + commonName + "\n");
  server.write("site.yaml", site);
  server.start();
  const auto alternateFile = server.dir().write("alternate-root.pem", alternateRoot);
  if (!eventually(
          [&] { return servesTrusted(httpsPort, "chain.acme.test", alternateFile.string()); }))
    FAIL(server.log());
  // The default chain's root does not verify what is served.
  CHECK_FALSE(servesTrusted(httpsPort, "chain.acme.test", pebble.rootFile()));
}

TEST_CASE("ACME requests survive rejected nonces", "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .nonceRejectPercent = 20});
  Server server;
  server.write("site.yaml", acmeSiteYaml(server, pebble, httpPort, httpsPort, "nonce.acme.test"));
  server.start();
  INFO(server.log());
  CHECK(eventually([&] { return servesTrusted(httpsPort, "nonce.acme.test", pebble.rootFile()); }));
}

TEST_CASE(
    "A challenge the ACME server cannot validate fails with its problem and is retried "
    "with backoff",
    "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .nonceRejectPercent = 0});
  // The VA dials 127.0.0.2 for this name, where nothing answers.
  pebble.addA("unreachable.acme.test", "127.0.0.2");
  Server server;
  server.write("site.yaml",
               acmeSiteYaml(server, pebble, httpPort, httpsPort, "unreachable.acme.test"));
  server.start();
  INFO(server.log());

  REQUIRE(eventually([&] {
    return conditionOf(server.object("Certificate", "web"), "Issuing").rfind("False/Failed", 0) ==
           0;
  }));
  const std::string issuing = conditionOf(server.object("Certificate", "web"), "Issuing");
  CHECK(issuing.find("urn:ietf:params:acme:error:connection") != std::string::npos);
  CHECK(issuing.find("unreachable.acme.test") != std::string::npos);
  CHECK(
      conditionOf(server.object("Certificate", "web"), "Ready").rfind("False/IssuanceFailed", 0) ==
      0);
  // The IssueFailed Event carries the problem too.
  bool recorded = false;
  for (const auto& [name, event] : server.objects("Event"))
    if (event.value("reason", "") == "IssueFailed" &&
        event.value("message", "").find("acme:error:connection") != std::string::npos)
      recorded = true;
  CHECK(recorded);

  // Retried, but with backoff: a few orders in ten seconds, not hundreds.
  const int before = pebble.count("Added order");
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const int placed = pebble.count("Added order") - before;
  CHECK(placed >= 1);
  CHECK(placed <= 2);
}

TEST_CASE(
    "An ACME order interrupted by kill -9 resumes after a restart: one order, one "
    "certificate",
    "[e2e][acme]") {
  const int httpPort = freePort(), httpsPort = freePort();
  Pebble pebble({.httpPort = httpPort, .tlsPort = freePort(), .nonceRejectPercent = 0});
  Server server;
  server.write("site.yaml", acmeSiteYaml(server, pebble, httpPort, httpsPort, "resume.acme.test"));
  server.start();
  std::string orderUrl;
  REQUIRE(eventually([&] {
    auto certificate = server.object("Certificate", "web");
    if (!certificate) return false;
    orderUrl = certificate->value(json::json_pointer("/status/acme/order/url"), "");
    return !orderUrl.empty() || certificate->contains(json::json_pointer("/status/thumbprint"));
  }));
  server.process().stop(SIGKILL);

  server.start();
  if (!eventually([&] { return servesTrusted(httpsPort, "resume.acme.test", pebble.rootFile()); }))
    FAIL(server.log());
  INFO(server.log());
  INFO(orderUrl);
  CHECK(pebble.count("Added order") == 1);
  CHECK(pebble.count("Issued certificate serial") == 1);
}

}  // namespace
}  // namespace siteplane::testing
