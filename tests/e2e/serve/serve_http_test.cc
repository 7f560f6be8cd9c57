// siteplane serve with plain-http bindings: live edits, broken manifests, prune, bind errors,
// conflicts, shutdown and kill -9.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

TEST_CASE("siteplane serve applies manifest edits without restarting", "[e2e][serve]") {
  Server server;
  int first = freePort();
  server.write("web.yaml", documents({siteYaml("web", server.root().string()),
                                      bindingYaml("web-a", "web", "http", first)}));
  server.start();
  pid_t pid = server.process().pid();
  REQUIRE(waitUntil([&] { return httpGet(first) == "hello from siteplane\n 200"; }, kDeadline));
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-a", "Programmed") == "True/Programmed"; },
      kDeadline));
  CHECK(server.statusField("Binding", "web-a", "listenAddress") ==
        "127.0.0.1:" + std::to_string(first));
  CHECK(waitUntil([&] { return server.statusField("Site", "web", "siteId") == "1"; }, kDeadline));
  CHECK(waitUntil([&] { return server.condition("Site", "web", "Ready") == "True/Ready"; },
                  kDeadline));
  CHECK(waitUntil(
      [&] {
        return server.log().find("reconcile key=BindingTable/siteplane/table generation=") !=
               std::string::npos;
      },
      kDeadline));

  SECTION("a binding on a new port is served") {
    int second = freePort();
    server.write("web.yaml", documents({siteYaml("web", server.root().string()),
                                        bindingYaml("web-a", "web", "http", first),
                                        bindingYaml("web-b", "web", "http", second)}));
    CHECK(waitUntil([&] { return httpGet(second) == "hello from siteplane\n 200"; }, kDeadline));
    CHECK(waitUntil(
        [&] {
          return server.statusField("Binding", "web-b", "listenAddress") ==
                 "127.0.0.1:" + std::to_string(second);
        },
        kDeadline));
    CHECK(httpGet(first) == "hello from siteplane\n 200");
  }

  SECTION("removing the site unprograms its binding and closes the port") {
    server.write("web.yaml", bindingYaml("web-a", "web", "http", first));
    CHECK(waitUntil([&] { return httpGet(first).empty(); }, kDeadline));
    CHECK(waitUntil(
        [&] {
          return server.condition("Binding", "web-a", "ResolvedRefs") == "False/SiteNotFound";
        },
        kDeadline));
    CHECK(waitUntil(
        [&] {
          return server.condition("Binding", "web-a", "Programmed") == "False/RefsNotResolved";
        },
        kDeadline));
    CHECK_FALSE(server.object("Site", "web"));
  }

  // The API server listens on loopback with its own CA and writes a kubeconfig.
  auto url = server.log().find("api_listening url=");
  REQUIRE(url != std::string::npos);
  std::string apiUrl = server.log().substr(url + 18, server.log().find(' ', url + 18) - url - 18);
  CHECK(apiUrl.rfind("https://127.0.0.1:", 0) == 0);
  CHECK(std::filesystem::exists(server.state() / "kubeconfig"));
  auto ready = run(
      {"curl", "-s", "--cacert", (server.state() / "api" / "ca.crt").string(), apiUrl + "/readyz"});
  CHECK(ready.out == "ok");

  CHECK(server.process().running());
  CHECK(server.process().pid() == pid);
  CHECK(server.process().stop(SIGTERM) == 0);
}

TEST_CASE("siteplane serve keeps a broken manifest's last good objects and reports the error",
          "[e2e][serve]") {
  Server server;
  int port = freePort();
  int next = freePort();
  std::string good = documents(
      {siteYaml("web", server.root().string()), bindingYaml("web-http", "web", "http", port)});
  server.write("web.yaml", good);
  server.start();
  REQUIRE(waitUntil([&] { return httpGet(port) == "hello from siteplane\n 200"; }, kDeadline));

  // Invalid YAML: nothing changes, the error names file:line:column.
  server.write("web.yaml", good + "---\nkind: [Site\n");
  CHECK(server.process().waitForOutput("web.yaml:", kDeadline));
  CHECK(waitUntil(
      [&] { return server.log().find("manifest_invalid file=web.yaml") != std::string::npos; },
      kDeadline));
  CHECK(httpGet(port) == "hello from siteplane\n 200");
  CHECK(server.object("Site", "web"));

  // A schema error on the moved binding: still nothing changes.
  std::string movedTooFar = documents(
      {siteYaml("web", server.root().string()), bindingYaml("web-http", "web", "http", 70000)});
  server.write("web.yaml", movedTooFar);
  CHECK(waitUntil(
      [&] {
        return server.log().find(
                   "web.yaml:17:9: Binding \"web-http\" spec.port: must be between 1 and 65535") !=
               std::string::npos;
      },
      kDeadline));
  CHECK(httpGet(port) == "hello from siteplane\n 200");
  // The error is kept as a Kubernetes Event, counted once per change of the file.
  auto invalidManifestEvent = [&]() -> json {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(
             server.state() / "objects" / "Event" / "default", ec)) {
      auto event = json::parse(readFile(entry.path()), nullptr, false);
      if (event.is_object() && event.value("reason", "") == "InvalidManifest") return event;
    }
    return json();
  };
  REQUIRE(waitUntil([&] { return invalidManifestEvent().value("count", 0) == 2; }, kDeadline));
  json event = invalidManifestEvent();
  CHECK(event["type"] == "Warning");
  CHECK(event["involvedObject"]["name"] == "web.yaml");
  CHECK(event["message"].get<std::string>().find("web.yaml:17:9: Binding \"web-http\" spec.port") !=
        std::string::npos);

  // Fixed: applied, and the event is gone.
  server.write("web.yaml", documents({siteYaml("web", server.root().string()),
                                      bindingYaml("web-http", "web", "http", next)}));
  CHECK(waitUntil([&] { return httpGet(next) == "hello from siteplane\n 200"; }, kDeadline));
  CHECK(waitUntil([&] { return httpGet(port).empty(); }, kDeadline));
  CHECK(waitUntil(
      [&] { return std::filesystem::is_empty(server.state() / "objects" / "Event" / "default"); },
      kDeadline));
}

TEST_CASE("siteplane serve prunes the objects of a deleted manifest and closes their port",
          "[e2e][serve]") {
  Server server;
  int kept = freePort();
  int pruned = freePort();
  server.write("site.yaml", siteYaml("web", server.root().string()));
  server.write("bindings/kept.yaml", bindingYaml("kept", "web", "http", kept));
  server.write("bindings/pruned.yaml", bindingYaml("pruned", "web", "http", pruned));
  server.start();
  REQUIRE(waitUntil([&] { return httpGet(pruned) == "hello from siteplane\n 200"; }, kDeadline));
  auto owner = server.object("Binding", "pruned");
  REQUIRE(owner);
  CHECK((*owner)["metadata"]["annotations"]["siteplane.io/manifest-file"] ==
        "bindings/pruned.yaml");

  server.remove("bindings/pruned.yaml");
  CHECK(waitUntil([&] { return httpGet(pruned).empty(); }, kDeadline));
  CHECK_FALSE(server.object("Binding", "pruned"));
  CHECK(httpGet(kept) == "hello from siteplane\n 200");

  // A new directory is watched too.
  int added = freePort();
  server.write("more/deeper/added.yaml", bindingYaml("added", "web", "http", added));
  CHECK(waitUntil([&] { return httpGet(added) == "hello from siteplane\n 200"; }, kDeadline));
}

TEST_CASE("siteplane serve declines an object a second file declares again", "[e2e][serve]") {
  Server server;
  int port = freePort();
  server.write("a.yaml", documents({siteYaml("web", server.root().string()),
                                    bindingYaml("web-http", "web", "http", port)}));
  server.start();
  REQUIRE(waitUntil([&] { return httpGet(port) == "hello from siteplane\n 200"; }, kDeadline));
  server.write("b.yaml", siteYaml("web", "/nowhere"));
  CHECK(waitUntil(
      [&] {
        return server.log().find(
                   "Site \"web\" in namespace \"default\" is already declared by a.yaml") !=
               std::string::npos;
      },
      kDeadline));
  auto site = server.object("Site", "web");
  REQUIRE(site);
  CHECK((*site)["spec"]["root"] == server.root().string());
  CHECK(httpGet(port) == "hello from siteplane\n 200");
}

TEST_CASE("siteplane serve reports a port in use on its binding and serves the others",
          "[e2e][serve]") {
  Server server;
  int busy = freePort();
  int free = freePort();
  PortBlocker blocker(busy);
  server.write("web.yaml", documents({siteYaml("web", server.root().string()),
                                      bindingYaml("busy", "web", "http", busy),
                                      bindingYaml("free", "web", "http", free)}));
  server.start();
  CHECK(waitUntil([&] { return httpGet(free) == "hello from siteplane\n 200"; }, kDeadline));
  CHECK(waitUntil(
      [&] { return server.condition("Binding", "busy", "Programmed") == "False/PortUnavailable"; },
      kDeadline));
  CHECK(waitUntil(
      [&] { return server.condition("Binding", "free", "Programmed") == "True/Programmed"; },
      kDeadline));
  auto busyBinding = server.object("Binding", "busy");
  REQUIRE(busyBinding);
  for (const auto& condition : (*busyBinding)["status"]["conditions"])
    if (condition["type"] == "Programmed")
      CHECK(condition["message"].get<std::string>().find(std::to_string(busy)) !=
            std::string::npos);
}

TEST_CASE("siteplane serve lets the oldest of two bindings for one host serve", "[e2e][serve]") {
  Server server;
  int port = freePort();
  server.write("a.yaml",
               documents({siteYaml("web", server.root().string()),
                          bindingYaml("first", "web", "http", port, "www.example.test")}));
  server.start();
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "first", "Programmed") == "True/Programmed"; },
      kDeadline));
  server.write("b.yaml", bindingYaml("second", "web", "http", port, "www.example.test"));
  CHECK(waitUntil(
      [&] {
        return server.condition("Binding", "second", "Conflicted") == "True/HostnameConflict";
      },
      kDeadline));
  CHECK(waitUntil(
      [&] { return server.condition("Binding", "second", "Programmed") == "False/Conflicted"; },
      kDeadline));
  CHECK(server.condition("Binding", "first", "Conflicted") == "False/NoConflicts");
  CHECK(httpGet(port, "www.example.test") == "hello from siteplane\n 200");
}

TEST_CASE("siteplane serve keeps every acknowledged object and status across kill -9",
          "[e2e][serve]") {
  Server server;
  server.write("site.yaml", siteYaml("web", server.root().string()));
  server.start();
  REQUIRE(waitUntil([&] { return server.statusField("Site", "web", "siteId") == "1"; }, kDeadline));

  // A burst of changes, killed in the middle.
  std::vector<int> ports;
  for (int i = 0; i < 12; ++i) {
    ports.push_back(freePort());
    server.write("burst-" + std::to_string(i) + ".yaml",
                 bindingYaml("burst-" + std::to_string(i), "web", "http", ports.back()));
    if (i == 8) {
      REQUIRE(
          waitUntil([&] { return server.object("Binding", "burst-0").has_value(); }, kDeadline));
      server.process().stop(SIGKILL);
    }
  }
  auto siteBefore = server.object("Site", "web");
  REQUIRE(siteBefore);

  server.start();
  for (int i = 0; i < 12; ++i) {
    std::string name = "burst-" + std::to_string(i);
    CHECK(waitUntil(
        [&] { return server.condition("Binding", name, "Programmed") == "True/Programmed"; },
        kDeadline));
    CHECK(httpGet(ports[i]) == "hello from siteplane\n 200");
  }
  auto siteAfter = server.object("Site", "web");
  REQUIRE(siteAfter);
  CHECK((*siteAfter)["metadata"]["uid"] == (*siteBefore)["metadata"]["uid"]);
  CHECK((*siteAfter)["status"]["siteId"] == 1);
}

}  // namespace siteplane::testing
