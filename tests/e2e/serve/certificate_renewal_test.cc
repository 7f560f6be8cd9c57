#include <catch2/catch.hpp>
#include <sstream>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

// Renewed every five seconds: valid for two minutes, renewed 1m55s before the end. The renewal
// logic itself runs on a fake clock in tests/server/; this is the real binary's short check that
// a renewal reaches a connection that stays open.
std::string shortLivedCertificateYaml() {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: www-tls\nspec:\n"
         "  dnsNames: [www.example.test]\n  duration: 2m\n  renewBefore: 1m55s\n"
         "  issuerRef:\n    name: self\n";
}

TEST_CASE(
    "siteplane serve renews a short-lived certificate and serves the new one without "
    "dropping a keep-alive client",
    "[e2e][serve][certificate]") {
  Server server;
  int port = freePort();
  server.write(
      "site.yaml",
      documents({selfSignedIssuerYaml(), shortLivedCertificateYaml(),
                 siteYaml("www", server.root().string()),
                 bindingYaml("www-https", "www", "https", port, "www.example.test", "www-tls")}));
  server.start();
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "www-https", "Programmed") == "True/Programmed"; },
      kDeadline));
  CHECK(server.condition("Certificate", "www-tls", "Ready") == "True/Issued");
  std::string first = server.statusField("Certificate", "www-tls", "thumbprint");
  REQUIRE(first.size() == 40);
  REQUIRE(
      waitUntil([&] { return servedThumbprint(port, "www.example.test") == first; }, kDeadline));

  // One curl, one connection, a request every 100 ms for eight seconds: the connection outlives
  // at least one renewal. num_connects is 1 for the request that opened the connection
  // and 0 for every request that reused it.
  const std::string authority = "www.example.test:" + std::to_string(port);
  Process client({"curl", "-sk", "--rate", "10/s", "--resolve", authority + ":127.0.0.1", "-o",
                  "/dev/null", "-w", "%{http_code} %{num_connects}\\n",
                  "https://" + authority + "/?request=[1-80]"});

  // The status moves to a new certificate, and new handshakes get that certificate.
  std::string renewed;
  REQUIRE(waitUntil(
      [&] {
        renewed = server.statusField("Certificate", "www-tls", "thumbprint");
        return !renewed.empty() && renewed != first;
      },
      kDeadline));
  CHECK(waitUntil(
      [&] {
        std::string now = server.statusField("Certificate", "www-tls", "thumbprint");
        return servedThumbprint(port, "www.example.test") == now;
      },
      kDeadline));
  CHECK(std::stoi(server.statusField("Certificate", "www-tls", "revision")) >= 2);

  REQUIRE(waitUntil([&] { return !client.running(); }, std::chrono::seconds(60)));
  std::istringstream lines(client.output());
  int requests = 0, connects = 0, ok = 0;
  std::string code;
  int connectsOfRequest = 0;
  while (lines >> code >> connectsOfRequest) {
    ++requests;
    connects += connectsOfRequest;
    if (code == "200") ++ok;
  }
  INFO(client.output());
  CHECK(requests == 80);
  CHECK(ok == requests);
  CHECK(connects == 1);
}

}  // namespace
}  // namespace siteplane::testing
