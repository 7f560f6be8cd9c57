// A FIFO, a device and a symlink loop in the manifest directory: each is reported as an
// InvalidManifest Event like any broken file, the source never blocks on the FIFO, and what the
// other files declare is served.

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

std::map<std::string, json> invalidManifestEvents(const Server& server) {
  std::map<std::string, json> out;
  for (const auto& [name, event] : server.objects("Event"))
    if (event.value("reason", "") == "InvalidManifest")
      out[event["involvedObject"].value("name", "")] = event;
  return out;
}

}  // namespace

TEST_CASE("serve reports FIFOs, devices and symlink loops in the manifest directory as Events",
          "[e2e][serve][special-files]") {
  Server server;
  int port = freePort();
  REQUIRE(::mkfifo((server.manifests() / "pipe.yaml").c_str(), 0600) == 0);
  std::filesystem::create_symlink("/dev/null", server.manifests() / "null.yaml");
  std::filesystem::create_symlink("loop.yaml", server.manifests() / "loop.yaml");
  server.write("site.yaml", documents({siteYaml("web", server.root().string()),
                                       bindingYaml("web-http", "web", "http", port)}));
  server.start();  // the first scan returns: the FIFO is never opened
  REQUIRE(waitUntil([&] { return invalidManifestEvents(server).size() == 3; }));
  auto events = invalidManifestEvents(server);
  CHECK_THAT(events["pipe.yaml"].value("message", ""),
             Catch::Contains("not a regular file (a FIFO)"));
  CHECK_THAT(events["null.yaml"].value("message", ""),
             Catch::Contains("not a regular file (a character device)"));
  CHECK_THAT(events["loop.yaml"].value("message", ""), Catch::Contains("symlink loop"));
  for (const auto& [name, event] : events) CHECK(event["type"] == "Warning");
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-http", "Programmed") == "True/Programmed"; }));
  CHECK(httpGet(port) == "hello from siteplane\n 200");

  // A FIFO that appears while serve watches is reported too, and a later edit is still seen.
  REQUIRE(::mkfifo((server.manifests() / "late.yaml").c_str(), 0600) == 0);
  REQUIRE(waitUntil([&] { return invalidManifestEvents(server).count("late.yaml") == 1; }));
  int next = freePort();
  server.write("more.yaml", bindingYaml("more-http", "web", "http", next));
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "more-http", "Programmed") == "True/Programmed"; }));
  REQUIRE(server.process().running());
}

}  // namespace siteplane::testing
