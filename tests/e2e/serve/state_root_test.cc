// A Site whose root holds the state directory would serve the API token, the API's CA key and
// every private key. serve refuses the root on the Site and serves nothing from it.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

TEST_CASE("serve refuses a Site root that contains the state directory and never serves it",
          "[e2e][serve][state-root]") {
  Server server;
  int open = freePort();
  int exposed = freePort();
  server.write("sites.yaml",
               documents({siteYaml("web", server.root().string()),
                          bindingYaml("web-http", "web", "http", open),
                          siteYaml("everything", server.dir().path().string()),
                          bindingYaml("everything-http", "everything", "http", exposed)}));
  server.start();
  REQUIRE(waitUntil(
      [&] { return server.condition("Site", "everything", "Ready") == "False/RootNotAllowed"; }));
  CHECK_THAT(server.conditionMessage("Site", "everything", "Ready"),
             Catch::Contains("contains the state directory " + server.state().string()));
  REQUIRE(waitUntil([&] {
    return server.condition("Binding", "everything-http", "ResolvedRefs") ==
           "False/RootNotAllowed";
  }));
  CHECK(server.condition("Binding", "everything-http", "Programmed").rfind("False/", 0) == 0);
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-http", "Programmed") == "True/Programmed"; }));
  CHECK(httpGet(open) == "hello from siteplane\n 200");

  const std::string token = readFile(server.state() / "api" / "token");
  REQUIRE(!token.empty());
  auto fetch = run({"curl", "-s", "--max-time", "5", "http://127.0.0.1:" + std::to_string(exposed) +
                                                          "/state/api/token"},
                   "", std::chrono::seconds(10));
  CHECK(fetch.out.find(token.substr(0, 16)) == std::string::npos);
}

}  // namespace siteplane::testing
