// `kill -HUP` on serve, as operators send it to nginx: the manifests are read again and the
// process keeps serving; it never exits on SIGHUP.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

TEST_CASE("serve rescans the manifests on SIGHUP and keeps serving", "[e2e][serve][sighup]") {
  Server server;
  int port = freePort();
  server.write("site.yaml", documents({siteYaml("web", server.root().string()),
                                       bindingYaml("web-http", "web", "http", port)}));
  server.start();
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-http", "Programmed") == "True/Programmed"; }));

  for (int i = 0; i < 3; ++i) {
    REQUIRE(::kill(server.process().pid(), SIGHUP) == 0);
    REQUIRE(waitUntil([&] {
      const std::string log = server.log();
      size_t count = 0;
      for (size_t at = log.find("rescan_requested"); at != std::string::npos;
           at = log.find("rescan_requested", at + 1))
        ++count;
      return count >= static_cast<size_t>(i + 1) || !server.process().running();
    }));
    REQUIRE(server.process().running());
  }
  CHECK(server.log().find("serve_reload signal=SIGHUP") != std::string::npos);
  CHECK(httpGet(port) == "hello from siteplane\n 200");

  // A manifest written now is taken (by the watch or the rescan a SIGHUP asks for).
  int second = freePort();
  server.write("more.yaml", bindingYaml("more-http", "web", "http", second));
  REQUIRE(::kill(server.process().pid(), SIGHUP) == 0);
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "more-http", "Programmed") == "True/Programmed"; }));
  CHECK(httpGet(second) == "hello from siteplane\n 200");

  // SIGTERM still stops it, cleanly.
  CHECK(server.process().stop(SIGTERM) == 0);
}

}  // namespace siteplane::testing
