// kubectl's watch, explain and refused manifests against a real `siteplane serve`, whose
// reconcilers write status while kubectl works.

#include <catch2/catch.hpp>

#include "tests/e2e/kubectl/kubectl_session.h"

namespace siteplane::testing {
namespace {

// Counts the lines of `text` that start with `type` and mention `needle`.
int eventLines(const std::string& text, const std::string& type, const std::string& needle) {
  int count = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.rfind(type + " ", 0) == 0 && line.find(needle) != std::string::npos) ++count;
    start = end + 1;
  }
  return count;
}

}  // namespace

TEST_CASE("kubectl get bindings -w sees ADDED, MODIFIED and DELETED as siteplane serve changes",
          "[e2e][kubectl][watch]") {
  KubectlSession session;
  Server& server = session.server();
  int port = freePort();
  auto manifest = server.dir().write(
      "apply/web.yaml",
      documents({siteYaml("web", server.root().string()),
                 bindingYaml("web-http", "web", "http", port, "web.example.test")}));

  Process watch(session.kubectlArgv({"get", "bindings", "-w", "--output-watch-events"}));
  // kubectl prints nothing for an empty list; a write that shows up proves the watch is live.
  auto applied = session.kubectl({"apply", "-f", manifest.string()});
  INFO(applied.err);
  REQUIRE(applied.exitCode == 0);
  REQUIRE(watch.waitForOutput("web-http", kDeadline));
  CHECK(waitUntil([&] { return eventLines(watch.output(), "ADDED", "web-http") >= 1; }));
  // The reconciler programs it: a status change is a MODIFIED event.
  CHECK(waitUntil([&] { return eventLines(watch.output(), "MODIFIED", "web-http") >= 1; },
                  kDeadline));
  REQUIRE(
      session.kubectl({"wait", "--for=condition=Programmed", "binding/web-http", "--timeout=60s"})
          .exitCode == 0);

  // A spec change (the host name) shows up with its new value.
  server.dir().write("apply/web.yaml",
                     documents({siteYaml("web", server.root().string()),
                                bindingYaml("web-http", "web", "http", port, "www.example.test")}));
  auto changed = session.kubectl({"apply", "-f", manifest.string()});
  INFO(changed.err);
  REQUIRE(changed.exitCode == 0);
  CHECK_THAT(changed.out, Catch::Contains("binding.siteplane.io/web-http configured"));
  CHECK(waitUntil([&] { return eventLines(watch.output(), "MODIFIED", "www.example.test") >= 1; },
                  kDeadline));
  CHECK(
      waitUntil([&] { return httpGet(port, "www.example.test").find(" 200") != std::string::npos; },
                kDeadline));

  auto deleted = session.kubectl({"delete", "binding", "web-http"});
  REQUIRE(deleted.exitCode == 0);
  CHECK(
      waitUntil([&] { return eventLines(watch.output(), "DELETED", "web-http") == 1; }, kDeadline));
  CHECK(waitUntil([&] { return portClosed(port); }, kDeadline));
  INFO(watch.output());
  CHECK(watch.running());
}

TEST_CASE(
    "kubectl apply of an invalid manifest to siteplane serve fails naming the field, and "
    "changes nothing",
    "[e2e][kubectl]") {
  KubectlSession session;
  Server& server = session.server();
  int port = freePort();
  auto good = server.dir().write("apply/web.yaml",
                                 documents({siteYaml("web", server.root().string()),
                                            bindingYaml("web-http", "web", "http", port)}));
  REQUIRE(session.applyAndWaitProgrammed(good, "web-http"));

  SECTION("a port out of range") {
    auto bad = server.dir().write("bad/port.yaml", bindingYaml("web-http", "web", "http", 70000));
    auto refused = session.kubectl({"apply", "-f", bad.string()});
    CHECK(refused.exitCode != 0);
    CHECK_THAT(refused.err, Catch::Contains("spec.port"));
    auto refusedServerSide = session.kubectl({"apply", "--server-side", "-f", bad.string()});
    CHECK(refusedServerSide.exitCode != 0);
    CHECK_THAT(refusedServerSide.err, Catch::Contains("spec.port"));
  }
  SECTION("an unknown field") {
    auto bad = server.dir().write("bad/field.yaml", bindingYaml("web-http", "web", "http", port) +
                                                        "  sslFlags: SslRequireCert\n");
    auto refused = session.kubectl({"apply", "-f", bad.string()});
    CHECK(refused.exitCode != 0);
    CHECK_THAT(refused.err, Catch::Contains("sslFlags"));
    // Even with kubectl's own validation off, the server refuses it and names the field.
    auto unvalidated = session.kubectl({"apply", "--validate=false", "-f", bad.string()});
    // fieldValidation=Ignore is what kubectl 1.25+ sends; 1.20 sends no fieldValidation at all.
    if (kubectlMinor() >= 25)
      CHECK(unvalidated.exitCode == 0);  // fieldValidation=Ignore: the field is dropped, not stored
    // (kubectl keeps its input in the last-applied annotation; the spec is what counts.)
    auto stored = session.kubectl({"get", "binding", "web-http", "-o", "jsonpath={.spec}"});
    CHECK_THAT(stored.out, Catch::Contains("\"siteRef\""));
    CHECK_THAT(stored.out, !Catch::Contains("sslFlags"));
    auto strict = session.api(
        "/apis/siteplane.io/v1alpha1/namespaces/default/bindings?fieldValidation=Strict",
        {"-X", "POST", "-H", "Content-Type: application/yaml", "--data-binary",
         "@" + bad.string()});
    CHECK(strict.code == 422);
    CHECK_THAT(strict.body, Catch::Contains("\"field\":\"spec.sslFlags\""));
  }
  // What serves keeps serving.
  CHECK(httpGet(port).find(" 200") != std::string::npos);
  auto still = session.kubectl({"get", "binding", "web-http", "-o", "jsonpath={.spec.port}"});
  CHECK(still.out == std::to_string(port));
}

TEST_CASE("kubectl explain reads siteplane serve's OpenAPI", "[e2e][kubectl]") {
  KubectlSession session;
  auto explained = session.kubectl({"explain", "binding.spec"});
  INFO(explained.err);
  REQUIRE(explained.exitCode == 0);
  // 1.20 and 1.32 pad the header differently.
  CHECK_THAT(explained.out, Catch::Matches("(.|\\n)*KIND: +Binding\\n(.|\\n)*"));
  for (const char* field : {"siteRef", "protocol", "address", "port", "hostName", "certificateRef",
                            "bindingInformation"})
    CHECK_THAT(explained.out, Catch::Contains(field));
  auto nested = session.kubectl({"explain", "site.spec.ssl.clientCertificate"});
  INFO(nested.err);
  CHECK(nested.exitCode == 0);
  CHECK_THAT(nested.out, Catch::Contains("Require"));
}

}  // namespace siteplane::testing
