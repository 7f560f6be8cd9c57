// Addresses written the way operators write them (IPv4-mapped, uncompressed IPv6) are served
// where clients arrive, and an http and an https binding on one port conflict instead of one
// listener's requests falling through to the other's routes. (The wildcards 0.0.0.0 and :: are
// covered by the compiler's tests: test sockets bind loopback only.)

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

std::string bindingAt(const std::string& name, const std::string& protocol,
                      const std::string& address, int port, const std::string& certificate = "") {
  std::string out = "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: " + name +
                    "\nspec:\n  siteRef:\n    name: web\n  protocol: " + protocol +
                    "\n  address: \"" + address + "\"\n  port: " + std::to_string(port) + "\n";
  if (!certificate.empty()) out += "  certificateRef:\n    name: " + certificate + "\n";
  return out;
}

std::string get(const std::string& url) {
  auto result = run({"curl", "-s", "-k", "--max-time", "5", "-w", " %{http_code}", url}, "",
                    std::chrono::seconds(10));
  return result.exitCode == 0 ? result.out : "";
}

}  // namespace

TEST_CASE("serve serves a binding whose address is IPv4-mapped or uncompressed IPv6",
          "[e2e][serve][address]") {
  Server server;
  int mapped = freePort();
  int longForm = freePort();
  server.write("site.yaml", documents({siteYaml("web", server.root().string()),
                                       bindingAt("mapped", "http", "::ffff:127.0.0.1", mapped),
                                       bindingAt("long", "http", "0:0:0:0:0:0:0:1", longForm)}));
  server.start();
  REQUIRE(waitUntil([&] {
    return server.condition("Binding", "mapped", "Programmed") == "True/Programmed" &&
           server.condition("Binding", "long", "Programmed") == "True/Programmed";
  }));
  CHECK(get("http://127.0.0.1:" + std::to_string(mapped) + "/") == "hello from siteplane\n 200");
  CHECK(get("http://[::1]:" + std::to_string(longForm) + "/") == "hello from siteplane\n 200");
}

TEST_CASE("serve reports an http and an https binding on one port as conflicting",
          "[e2e][serve][address]") {
  Server server;
  int port = freePort();
  server.write("site.yaml", documents({siteYaml("web", server.root().string()),
                                       bindingAt("plain", "http", "127.0.0.1", port)}));
  server.start();
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "plain", "Programmed") == "True/Programmed"; }));
  server.write("secure.yaml",
               documents({selfSignedIssuerYaml(),
                          issuedCertificateYaml("web-tls", "self", {"www.example.test"}),
                          bindingAt("secure", "https", "::1", port, "web-tls")}));
  REQUIRE(waitUntil([&] {
    return server.condition("Binding", "secure", "Conflicted") == "True/ProtocolConflict";
  }));
  CHECK_THAT(server.conditionMessage("Binding", "secure", "Conflicted"),
             Catch::Contains("port " + std::to_string(port) + " is already http"));
  CHECK(server.condition("Binding", "secure", "Programmed").rfind("False/", 0) == 0);
  CHECK(get("http://127.0.0.1:" + std::to_string(port) + "/") == "hello from siteplane\n 200");
}

}  // namespace siteplane::testing
