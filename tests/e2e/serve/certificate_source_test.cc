// siteplane serve picks up replaced spec.source files of an imported Certificate from their
// watch, and files that cannot be used never take away the certificate being served.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

TEST_CASE(
    "siteplane serve serves an imported certificate whose files are rewritten in place or "
    "replaced by a rename",
    "[e2e][serve][certificate][import]") {
  Server server;
  int port = freePort();
  auto tls = server.dir().path() / "tls";
  auto first = makeCertificate(tls, "site", {"www.example.test"});
  server.write(
      "site.yaml",
      documents({importedCertificateYaml("site-tls", first),
                 siteYaml("www", server.root().string()),
                 bindingYaml("www", "www", "https", port, "www.example.test", "site-tls")}));
  server.start();
  const pid_t pid = server.process().pid();
  REQUIRE(waitUntil([&] { return servedThumbprint(port, "www.example.test") == first.thumbprint; },
                    kDeadline));

  // Served once the status shows it. The periodic look at the files is 30 s apart, beyond the
  // deadline: what these waits see comes from the files' watch.
  auto servedAfterReplacing = [&](const TestCertificate& next) {
    return waitUntil(
        [&] {
          return server.statusField("Certificate", "site-tls", "thumbprint") == next.thumbprint &&
                 servedThumbprint(port, "www.example.test") == next.thumbprint;
        },
        kDeadline);
  };

  // In place: truncated and rewritten, the certificate first, then its key.
  auto second = makeCertificate(server.dir().path() / "second", "site", {"www.example.test"});
  std::ofstream(first.cert, std::ios::trunc) << readFile(second.cert);
  std::ofstream(first.key, std::ios::trunc) << readFile(second.key);
  CHECK(servedAfterReplacing(second));
  CHECK(server.condition("Certificate", "site-tls", "Ready") == "True/Imported");

  // The editor pattern: a temporary file next to each, renamed over it.
  auto third = makeCertificate(server.dir().path() / "third", "site", {"www.example.test"});
  std::filesystem::copy_file(third.cert, tls / ".site.crt.tmp");
  std::filesystem::copy_file(third.key, tls / ".site.key.tmp");
  std::filesystem::rename(tls / ".site.crt.tmp", first.cert);
  std::filesystem::rename(tls / ".site.key.tmp", first.key);
  CHECK(servedAfterReplacing(third));

  // A broken replacement: reported, and the last good certificate keeps serving.
  std::ofstream(first.cert, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nMIIB\n";
  CHECK(waitUntil(
      [&] {
        return server.condition("Certificate", "site-tls", "Issuing") == "True/InvalidSource";
      },
      kDeadline));
  CHECK(server.condition("Certificate", "site-tls", "Ready") == "True/Imported");
  CHECK(server.statusField("Certificate", "site-tls", "thumbprint") == third.thumbprint);
  CHECK(servedThumbprint(port, "www.example.test") == third.thumbprint);
  CHECK(server.condition("Binding", "www", "Programmed") == "True/Programmed");

  // Repaired: taken again.
  auto fourth = makeCertificate(server.dir().path() / "fourth", "site", {"www.example.test"});
  std::ofstream(first.key, std::ios::trunc) << readFile(fourth.key);
  std::ofstream(first.cert, std::ios::trunc) << readFile(fourth.cert);
  CHECK(servedAfterReplacing(fourth));
  CHECK(waitUntil(
      [&] { return server.condition("Certificate", "site-tls", "Issuing") == "False/Imported"; },
      kDeadline));

  CHECK(server.process().pid() == pid);
  CHECK(server.process().stop(SIGTERM) == 0);
}

}  // namespace
}  // namespace siteplane::testing
