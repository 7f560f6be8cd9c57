// `siteplane serve` with a client CA that publishes a CRL (spec.ssl.clientCARefs[].crlFile): a
// revoked client certificate gets 403.13, a CRL replaced on disk is picked up without a restart,
// and a broken replacement keeps the last good CRL while the Site's status says why.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

constexpr const char* kImportRefusal =
    "is not in a directory this object may import from (the manifest directory for objects "
    "declared by manifest files, and the --import-root directories; never the state directory)";

// "<status> <X-Status>" of GET https://crl.test:port/ with the client certificate.
std::string getWith(int port, const TestCertificate& client) {
  auto result =
      run({"curl", "-sk", "--max-time", "5", "-D", "-", "-o", "/dev/null", "--resolve",
           "crl.test:" + std::to_string(port) + ":127.0.0.1", "--cert", client.cert.string(),
           "--key", client.key.string(), "https://crl.test:" + std::to_string(port) + "/"},
          "", seconds(10));
  std::string status = result.out.size() > 12 ? result.out.substr(9, 3) : "";
  auto substatus = result.out.find("X-Status: ");
  if (substatus != std::string::npos)
    status +=
        " " + result.out.substr(substatus + 10, result.out.find('\r', substatus) - substatus - 10);
  return status;
}

// The client CA and server certificate imported, the Site `intranet` requiring client
// certificates of that CA with `crl` as its CRL, and its https binding for crl.test on `port`.
std::string intranetYaml(const Server& server, const TestCertificate& ca,
                         const TestCertificate& serverCertificate, const std::filesystem::path& crl,
                         int port) {
  return documents({importedCertificateYaml("client-ca", ca),
                    importedCertificateYaml("server-tls", serverCertificate),
                    "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: intranet\n"
                    "spec:\n  root: " +
                        server.root().string() +
                        "\n  ssl:\n    clientCertificate: Require\n    clientCARefs:\n"
                        "      - name: client-ca\n        crlFile: " +
                        crl.string() + "\n",
                    bindingYaml("intranet", "intranet", "https", port, "crl.test", "server-tls")});
}

}  // namespace

TEST_CASE(
    "siteplane serve refuses revoked client certificates with 403.13 and reloads a replaced CRL",
    "[e2e][serve][tls][crl]") {
  Server server;
  const int port = freePort();
  auto pki = server.dir().path() / "pki";
  auto ca = makeCertificate(pki, "client-ca", {}, nullptr, true);
  auto serverCertificate = makeCertificate(pki, "server", {"crl.test"});
  auto alice = makeCertificate(pki, "alice", {"alice.test"}, &ca);
  auto mallory = makeCertificate(pki, "mallory", {"mallory.test"}, &ca);
  auto bob = makeCertificate(pki, "bob", {"bob.test"}, &ca);
  const auto crl = pki / "client-ca.crl";
  makeCrl(crl, ca, {&mallory});

  server.write("site.yaml", intranetYaml(server, ca, serverCertificate, crl, port));
  server.start();
  const pid_t pid = server.process().pid();
  REQUIRE(waitUntil([&] { return getWith(port, alice) == "200"; }, kDeadline));
  CHECK(waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "True/Ready"; },
                  kDeadline));
  CHECK(getWith(port, mallory) == "403 403.13");
  CHECK(getWith(port, bob) == "200");

  // The CA revokes bob too: the new CRL is renamed over the old one and read without a restart.
  makeCrl(crl, ca, {&mallory, &bob});
  CHECK(waitUntil([&] { return getWith(port, bob) == "403 403.13"; }, kDeadline));
  CHECK(getWith(port, alice) == "200");
  CHECK(server.process().pid() == pid);
  CHECK(server.process().running());

  // A broken replacement: the Site says so and the last good CRL keeps revoking.
  {
    std::ofstream(pki / ".client-ca.crl.tmp") << "not a CRL\n";
    std::filesystem::rename(pki / ".client-ca.crl.tmp", crl);
  }
  CHECK(
      waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "False/InvalidCRL"; },
                kDeadline));
  CHECK(server.conditionMessage("Site", "intranet", "Ready") ==
        "spec.ssl.clientCARefs[0].crlFile " + crl.string() +
            ": not a PEM or DER X.509 CRL; serving with the last good CRL");
  CHECK(getWith(port, bob) == "403 403.13");
  CHECK(getWith(port, alice) == "200");

  // A CRL of another CA is not this CA's.
  auto stranger = makeCertificate(pki, "stranger-ca", {}, nullptr, true);
  makeCrl(pki / "stranger.crl", stranger, {});
  std::filesystem::rename(pki / "stranger.crl", crl);
  CHECK(waitUntil(
      [&] {
        return server.conditionMessage("Site", "intranet", "Ready") ==
               "spec.ssl.clientCARefs[0].crlFile " + crl.string() +
                   ": not issued by any of the site's client CAs; serving with the last good CRL";
      },
      kDeadline));
  CHECK(getWith(port, mallory) == "403 403.13");

  // A CRL past its nextUpdate decides nothing: every certificate of the CA gets 403.13.
  makeCrl(crl, ca, {}, true);
  CHECK(
      waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "False/CRLExpired"; },
                kDeadline));
  CHECK(getWith(port, alice) == "403 403.13");

  // A good CRL again: Ready, and bob (no longer listed) is served.
  makeCrl(crl, ca, {&mallory});
  CHECK(waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "True/Ready"; },
                  kDeadline));
  CHECK(getWith(port, bob) == "200");
  CHECK(getWith(port, mallory) == "403 403.13");
}

TEST_CASE("siteplane serve does not serve a site whose CRL never loaded",
          "[e2e][serve][tls][crl]") {
  Server server;
  const int port = freePort();
  auto pki = server.dir().path() / "pki";
  auto ca = makeCertificate(pki, "client-ca", {}, nullptr, true);
  auto serverCertificate = makeCertificate(pki, "server", {"crl.test"});
  auto alice = makeCertificate(pki, "alice", {"alice.test"}, &ca);
  const auto crl = pki / "missing.crl";
  server.write("site.yaml", intranetYaml(server, ca, serverCertificate, crl, port));
  server.start();
  REQUIRE(
      waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "False/InvalidCRL"; },
                kDeadline));
  CHECK(server.conditionMessage("Site", "intranet", "Ready") ==
        "spec.ssl.clientCARefs[0].crlFile " + crl.string() +
            ": cannot open: No such file or directory");
  CHECK(waitUntil(
      [&] { return server.condition("Binding", "intranet", "ResolvedRefs") == "False/InvalidCRL"; },
      kDeadline));
  CHECK(getWith(port, alice) == "");
  // Once the file appears (its directory is watched), the site is served with it.
  makeCrl(crl, ca, {});
  CHECK(waitUntil([&] { return getWith(port, alice) == "200"; }, kDeadline));
  // The status is written after the data plane reports the table served: await it too.
  CHECK(waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "True/Ready"; },
                  kDeadline));
}

}  // namespace siteplane::testing

namespace siteplane::testing {

TEST_CASE(
    "siteplane serve reads a CRL only where Certificate imports may read, never the state "
    "directory",
    "[e2e][serve][tls][crl]") {
  Server server;
  const int port = freePort();
  auto pki = server.dir().path() / "pki";
  auto ca = makeCertificate(pki, "client-ca", {}, nullptr, true);
  auto serverCertificate = makeCertificate(pki, "server", {"crl.test"});
  auto alice = makeCertificate(pki, "alice", {"alice.test"}, &ca);
  // A real CRL of the right CA, placed in the state directory: the path is refused before the
  // file is opened, so the site waits as for a CRL that never loaded.
  std::filesystem::create_directories(server.state());
  const auto crl = server.state() / "client-ca.crl";
  makeCrl(crl, ca, {});
  server.write("site.yaml", intranetYaml(server, ca, serverCertificate, crl, port));
  server.start();
  REQUIRE(
      waitUntil([&] { return server.condition("Site", "intranet", "Ready") == "False/InvalidCRL"; },
                kDeadline));
  CHECK(server.conditionMessage("Site", "intranet", "Ready") ==
        "spec.ssl.clientCARefs[0].crlFile " + crl.string() + ": " + kImportRefusal);
  CHECK(getWith(port, alice) == "");
}

}  // namespace siteplane::testing
