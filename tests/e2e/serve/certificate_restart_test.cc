// siteplane serve killed with -9 in the middle of a burst of certificate changes: a restart
// finds everything it had acknowledged and re-issues nothing it had issued.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

std::string hostOf(int i) { return "site" + std::to_string(i) + ".example.test"; }

TEST_CASE(
    "siteplane serve killed with -9 in a burst of certificate changes keeps every "
    "acknowledged object and status and re-issues nothing",
    "[e2e][serve][certificate]") {
  Server server;
  int port = freePort();
  server.write("ca.yaml",
               documents({selfSignedIssuerYaml("self"), caCertificateYaml("root", "self"),
                          caIssuerYaml("ca", "root"), siteYaml("www", server.root().string())}));
  server.start();
  REQUIRE(
      waitUntil([&] { return server.condition("Issuer", "ca", "Ready") == "True/KeyPairVerified"; },
                kDeadline));

  // A burst: each file a CA-issued Certificate and its https Binding; killed in the middle, once
  // the first few are issued, and the rest written while the server is down.
  constexpr int kBurst = 12;
  constexpr int kKillAfter = 7;
  for (int i = 0; i < kBurst; ++i) {
    std::string n = std::to_string(i);
    server.write(
        "site-" + n + ".yaml",
        documents({issuedCertificateYaml("tls-" + n, "ca", {hostOf(i)}),
                   bindingYaml("site-" + n, "www", "https", port, hostOf(i), "tls-" + n)}));
    if (i == kKillAfter) {
      REQUIRE(waitUntil(
          [&] { return server.condition("Certificate", "tls-2", "Ready") == "True/Issued"; },
          kDeadline));
      REQUIRE(server.process().stop(SIGKILL) != 0);
    }
  }

  // What was acknowledged: every object in the state directory, and every key pair in the
  // certificate store (issued, perhaps without its status written yet).
  std::map<std::string, std::map<std::string, json>> before;
  for (const std::string kind : {"Site", "Binding", "Certificate", "Issuer"})
    before[kind] = server.objects(kind);
  std::map<std::string, std::string> stored;  // Certificate -> leaf thumbprint in the store
  for (const auto& [name, object] : before["Certificate"]) {
    auto chain = server.state() / "certificates" / "default" / name / "tls.crt";
    if (std::filesystem::exists(chain)) stored[name] = factsOf(readFile(chain)).thumbprint;
  }
  REQUIRE(before["Certificate"].count("root"));
  REQUIRE(stored.count("tls-2"));
  INFO("acknowledged before the kill: " << before["Certificate"].size() << " Certificates, "
                                        << stored.size() << " key pairs");

  server.start();
  // Everything acknowledged is there at once, as it was: the store loads before serving.
  for (const auto& [kind, objects] : before) {
    for (const auto& [name, object] : objects) {
      INFO(kind << " " << name);
      auto after = server.object(kind, name);
      REQUIRE(after);
      CHECK((*after)["metadata"]["uid"] == object["metadata"]["uid"]);
      CHECK((*after)["metadata"]["generation"] == object["metadata"]["generation"]);
      CHECK((*after)["spec"] == object["spec"]);
    }
  }

  // The rest of the burst converges and is served.
  for (int i = 0; i < kBurst; ++i) {
    std::string n = std::to_string(i);
    INFO("site-" << n);
    REQUIRE(waitUntil(
        [&] { return server.condition("Binding", "site-" + n, "Programmed") == "True/Programmed"; },
        kDeadline));
    std::string thumbprint = server.statusField("Certificate", "tls-" + n, "thumbprint");
    CHECK(waitUntil([&] { return servedThumbprint(port, hostOf(i)) == thumbprint; }, kDeadline));
  }

  // Nothing issued before the kill was issued again: a Ready status keeps its thumbprint, serial
  // number and revision, and a key pair stored before its status was written became the status.
  for (const auto& [name, object] : before["Certificate"]) {
    INFO("Certificate " << name);
    bool wasReady = false;
    for (const auto& condition : object.value("/status/conditions"_json_pointer, json::array()))
      wasReady |= condition.value("type", "") == "Ready" && condition.value("status", "") == "True";
    auto after = server.object("Certificate", name);
    REQUIRE(after);
    if (wasReady) {
      CHECK((*after)["status"]["thumbprint"] == object["status"]["thumbprint"]);
      CHECK((*after)["status"]["serialNumber"] == object["status"]["serialNumber"]);
      CHECK((*after)["status"]["revision"] == object["status"]["revision"]);
    }
    if (stored.count(name)) CHECK((*after)["status"]["thumbprint"] == stored[name]);
  }
  CHECK(server.log().find("certificate_issued key=Certificate/default/root ") == std::string::npos);
  CHECK(server.process().stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace siteplane::testing
