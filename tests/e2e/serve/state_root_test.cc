// A Site whose root holds the state directory would serve the API token, the API's CA key and
// every private key. serve refuses the root on the Site and serves nothing from it.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/api_client.h"
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
    return server.condition("Binding", "everything-http", "ResolvedRefs") == "False/RootNotAllowed";
  }));
  CHECK(server.condition("Binding", "everything-http", "Programmed").rfind("False/", 0) == 0);
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-http", "Programmed") == "True/Programmed"; }));
  CHECK(httpGet(open) == "hello from siteplane\n 200");

  const std::string token = readFile(server.state() / "api" / "token");
  REQUIRE(!token.empty());
  auto fetch = run({"curl", "-s", "--max-time", "5",
                    "http://127.0.0.1:" + std::to_string(exposed) + "/state/api/token"},
                   "", std::chrono::seconds(10));
  CHECK(fetch.out.find(token.substr(0, 16)) == std::string::npos);
}

TEST_CASE(
    "serve refuses Site roots in /proc and /dev, whose meaning changes with the process's "
    "descriptors",
    "[e2e][serve][state-root]") {
  // /proc/self/fd/N is whatever descriptor N is when a request comes: one of the store's
  // directories under the state directory, at the wrong moment.
  Server server;
  int procPort = freePort();
  int devPort = freePort();
  server.write("sites.yaml", documents({siteYaml("procfs", "/proc/self/fd/3"),
                                        bindingYaml("procfs-http", "procfs", "http", procPort),
                                        siteYaml("devfs", "/dev/fd/4"),
                                        bindingYaml("devfs-http", "devfs", "http", devPort)}));
  server.start();
  for (const char* site : {"procfs", "devfs"}) {
    INFO(site);
    REQUIRE(waitUntil(
        [&] { return server.condition("Site", site, "Ready") == "False/RootNotAllowed"; }));
  }
  CHECK_THAT(server.conditionMessage("Site", "procfs", "Ready"),
             Catch::Contains("lies inside /proc, which a site may not serve"));
  CHECK_THAT(server.conditionMessage("Site", "devfs", "Ready"),
             Catch::Contains("lies inside /dev, which a site may not serve"));
  CHECK(waitUntil([&] {
    return server.condition("Binding", "procfs-http", "ResolvedRefs") == "False/RootNotAllowed";
  }));
}

TEST_CASE("a Site created through the API serves only the manifest directory and the import roots",
          "[e2e][serve][state-root]") {
  // An API token must not publish the machine's files (/etc/shadow to anyone on the port):
  // the operator decides which directories API objects may reach, as for Certificate imports.
  Server server;
  int port = freePort();
  std::filesystem::create_directories(server.manifests() / "sites" / "www");
  server.write("sites/www/index.html", "from the manifest directory\n");
  server.start({}, /*importTestDir=*/false);
  ApiClient api(server);
  auto site = [](const std::string& name, const std::string& root) {
    return "{\"apiVersion\":\"siteplane.io/v1alpha1\",\"kind\":\"Site\",\"metadata\":{\"name\":\"" +
           name + "\"},\"spec\":{\"root\":\"" + root + "\"}}";
  };
  REQUIRE(api.call("POST", kApiPrefix + "sites", site("etc", "/etc")).status == 201);
  REQUIRE(api.call("POST", kApiPrefix + "sites", site("www", "sites/www")).status == 201);
  REQUIRE(waitUntil(
      [&] { return server.condition("Site", "etc", "Ready") == "False/RootNotAllowed"; }));
  CHECK_THAT(server.conditionMessage("Site", "etc", "Ready"),
             Catch::Contains("spec.root /etc is outside the directories a Site created through the "
                             "API may serve"));
  REQUIRE(waitUntil([&] { return server.condition("Site", "www", "Ready") == "True/Ready"; }));
  // The same root written in a manifest file is the operator's choice and is served.
  server.write("etc.yaml",
               documents({siteYaml("operator-etc", "/etc"),
                          bindingYaml("operator-etc-http", "operator-etc", "http", port)}));
  CHECK(
      waitUntil([&] { return server.condition("Site", "operator-etc", "Ready") == "True/Ready"; }));
}

}  // namespace siteplane::testing
