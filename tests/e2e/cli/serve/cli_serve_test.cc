// The CLI against a real `siteplane serve`: apply through the API, wait for the reconciler to
// program the binding, and get the request served.

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/test_support.h"

namespace siteplane::testing {

TEST_CASE("apply through siteplane serve's API programs a binding that then serves requests",
          "[e2e][cli][serve]") {
  TempDir dir;
  auto binary = (std::filesystem::path(SITEPLANE_BINARY_DIR) / "siteplane").string();
  std::filesystem::create_directories(dir.path() / "manifests");
  dir.write("www/index.html", "hello through the API\n");
  auto state = dir.path() / "state";
  Process serve({binary, "serve", "--manifests", (dir.path() / "manifests").string(), "--state",
                 state.string(), "--workers", "1", "--access-log-format", "off", "--api-listen",
                 "127.0.0.1:0", "--import-root", dir.path().string()});
  REQUIRE(serve.waitForOutput("serve_started"));
  int port = freePort();
  auto manifest = dir.write(
      "apply/web.yaml",
      "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: web\nspec:\n  root: " +
          (dir.path() / "www").string() +
          "\n---\napiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: web-http\n"
          "spec:\n  siteRef: {name: web}\n  protocol: http\n  address: 127.0.0.1\n  port: " +
          std::to_string(port) + "\n");
  auto applied = run({binary, "apply", "-f", manifest.string(), "--state", state.string()});
  INFO(applied.err);
  REQUIRE(applied.exitCode == 0);
  auto waited = run({binary, "wait", "--for=condition=Programmed", "binding/web-http", "--timeout",
                     "5s", "--state", state.string()});
  INFO(waited.err);
  INFO(run({binary, "get", "binding", "web-http", "-o", "yaml", "--state", state.string()}).out);
  INFO(serve.output());
  REQUIRE(waited.exitCode == 0);
  auto body = run({"curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/index.html"});
  CHECK(body.out == "hello through the API\n");
  auto deleted = run({binary, "delete", "-f", manifest.string(), "--state", state.string()});
  CHECK(deleted.exitCode == 0);
  CHECK(waitUntil([&] {
    return run({"curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/"}).exitCode != 0;
  }));
}

}  // namespace siteplane::testing
