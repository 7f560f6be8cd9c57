// A whole Server in-process on a FakeClock: issuance, the renewal timer and the swap to the
// renewed certificate, driven by advancing the clock instead of waiting for it.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "server/server.h"
#include "tests/server/served_certificate.h"
#include "tests/support/test_support.h"

namespace siteplane::server {
namespace {

using namespace std::chrono_literals;
using siteplane::testing::servedThumbprint;
using siteplane::testing::waitUntil;

// A self-signed Issuer, a Certificate valid for two minutes and renewed 1m50s before its end
// (ten seconds after issuance), a Site and an https Binding on `port`.
std::string manifests(int port, const std::string& root) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Issuer\nmetadata:\n  name: self\n"
         "spec:\n  selfSigned: {}\n"
         "---\napiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: www-tls\n"
         "spec:\n  dnsNames: [www.example.test]\n  duration: 2m\n  renewBefore: 1m50s\n"
         "  issuerRef:\n    name: self\n"
         "---\napiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: www\n"
         "spec:\n  root: " +
         root +
         "\n"
         "---\napiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: www-https\n"
         "spec:\n  siteRef:\n    name: www\n  protocol: https\n  address: 127.0.0.1\n"
         "  port: " +
         std::to_string(port) +
         "\n  hostName: www.example.test\n  certificateRef:\n    name: www-tls\n";
}

// Polls `condition`, moving the fake clock a little before each look, so that what waits on the
// clock (the compile pass's debounce, requeues) comes due while the test waits for its effect.
bool advanceUntil(FakeClock& clock, const std::function<bool()>& condition) {
  return waitUntil([&] {
    clock.advance(50ms);
    return condition();
  });
}

TEST_CASE("A Server on a fake clock renews a short-lived certificate and serves the new one",
          "[server][certificate]") {
  siteplane::testing::TempDir dir;
  const int port = siteplane::testing::freePort();
  dir.write("www/index.html", "hello\n");
  dir.write("manifests/site.yaml", manifests(port, (dir.path() / "www").string()));
  FakeClock clock;

  ServerOptions options;
  options.manifests = dir.path() / "manifests";
  options.state = dir.path() / "state";
  options.dataPlane.workers = 1;
  options.clock = &clock;
  auto created = Server::create(options);
  REQUIRE(created.isOk());
  Server& server = **created;
  REQUIRE(server.start().isOk());

  std::string first;
  REQUIRE(advanceUntil(clock, [&] {
    first = servedThumbprint(port, "www.example.test");
    return !first.empty();
  }));
  REQUIRE(first.size() == 40);

  // Past the renewal time (ten seconds after issuance): the queue's timer fires on the fake
  // clock, the Certificate is re-issued and the compile pass swaps the new one in.
  clock.advance(10s);
  std::string renewed;
  REQUIRE(advanceUntil(clock, [&] {
    renewed = servedThumbprint(port, "www.example.test");
    return !renewed.empty() && renewed != first;
  }));
  CHECK(renewed.size() == 40);
  server.stop(0ms);
}

}  // namespace
}  // namespace siteplane::server
