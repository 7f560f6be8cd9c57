// The hard edges of siteplane serve's API, with curl: every refusal is the right 4xx as a
// `kind: Status`, and the server keeps answering and serving what it served before.

#include <catch2/catch.hpp>
#include <set>

#include "tests/e2e/kubectl/kubectl_session.h"

namespace siteplane::testing {
namespace {

const std::string kBindings = "/apis/siteplane.io/v1alpha1/namespaces/default/bindings";

json statusOf(const KubectlSession::HttpReply& reply) {
  json body = json::parse(reply.body, nullptr, false);
  return body.is_discarded() ? json() : body;
}

// A Status of `code` with `reason`.
void checkStatus(const KubectlSession::HttpReply& reply, int code, const std::string& reason) {
  INFO(reply.body);
  CHECK(reply.code == code);
  json status = statusOf(reply);
  CHECK(status.value("kind", "") == "Status");
  CHECK(status.value("status", "") == "Failure");
  CHECK(status.value("code", 0) == code);
  CHECK(status.value("reason", "") == reason);
}

}  // namespace

TEST_CASE("siteplane serve's API refuses bad requests with a Status and keeps serving",
          "[e2e][kubectl][api]") {
  KubectlSession session;
  Server& server = session.server();
  int port = freePort();
  auto manifest = server.dir().write("apply/web.yaml",
                                     documents({siteYaml("web", server.root().string()),
                                                bindingYaml("web-http", "web", "http", port)}));
  REQUIRE(session.applyAndWaitProgrammed(manifest, "web-http"));
  auto before = session.api(kBindings + "/web-http");
  REQUIRE(before.code == 200);
  // The reconcilers may still write status; the spec and its generation are the test's.
  json spec = statusOf(before)["spec"];
  int generation = statusOf(before)["metadata"].value("generation", 0);
  REQUIRE(generation > 0);

  // No token, and a wrong one.
  checkStatus(session.api(kBindings, {}, false), 401, "Unauthorized");
  checkStatus(session.api(kBindings, {"-H", "Authorization: Bearer not-the-token"}, false), 401,
              "Unauthorized");

  auto missing = session.api(kBindings + "/no-such-binding");
  checkStatus(missing, 404, "NotFound");
  CHECK(statusOf(missing)["details"].value("name", "") == "no-such-binding");

  // An update carrying a resourceVersion older than the stored one.
  json stale = statusOf(before);
  stale["metadata"]["resourceVersion"] = "1";
  stale["spec"]["hostName"] = "stale.example.test";
  auto conflict = session.api(
      kBindings + "/web-http",
      {"-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", stale.dump()});
  checkStatus(conflict, 409, "Conflict");

  // Every invalid field at once, each with its path.
  auto invalid =
      session.api(kBindings, {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                              R"({"apiVersion":"siteplane.io/v1alpha1","kind":"Binding",)"
                              R"("metadata":{"name":"broken"},"spec":{"siteRef":{"name":"web"},)"
                              R"("protocol":"gopher","port":70000,"sslFlags":"Ssl"}})"});
  checkStatus(invalid, 422, "Invalid");
  std::set<std::string> fields;
  for (const auto& cause : statusOf(invalid)["details"].value("causes", json::array()))
    fields.insert(cause.value("field", ""));
  CHECK(fields == std::set<std::string>{"spec.port", "spec.protocol", "spec.sslFlags"});

  // A 10 MB body, sent at once (no Expect: 100-continue) and the polite way.
  TempDir big;
  auto body = big.write("big.json", "{\"spec\":\"" + std::string(10 * 1024 * 1024, 'x') + "\"}");
  checkStatus(session.api(kBindings, {"-X", "POST", "-H", "Content-Type: application/json", "-H",
                                      "Expect:", "--data-binary", "@" + body.string()}),
              413, "RequestEntityTooLarge");
  checkStatus(session.api(kBindings, {"-X", "POST", "-H", "Content-Type: application/json",
                                      "--data-binary", "@" + body.string()}),
              413, "RequestEntityTooLarge");

  checkStatus(session.api(kBindings, {"-X", "POST", "-H", "Content-Type: application/json",
                                      "--data-binary", R"({"apiVersion": "siteplane.io/v1)"}),
              400, "BadRequest");
  checkStatus(session.api(kBindings + "/web-http?fieldManager=e2e",
                          {"-X", "PATCH", "-H", "Content-Type: application/apply-patch+yaml",
                           "--data-binary", "spec: [port: 1\n  : :\n"}),
              400, "BadRequest");
  checkStatus(session.api(kBindings + "/web-http",
                          {"-X", "PATCH", "-H", "Content-Type: application/merge-patch+json",
                           "--data-binary", "{\"spec\":"}),
              400, "BadRequest");
  checkStatus(session.api(kBindings, {"-X", "POST", "-H", "Content-Type: text/csv", "--data-binary",
                                      "name,port\nweb,80\n"}),
              415, "UnsupportedMediaType");
  checkStatus(
      session.api(kBindings + "/web-http",
                  {"-X", "PATCH", "-H", "Content-Type: application/strategic-merge-patch+json",
                   "--data-binary", "{}"}),
      415, "UnsupportedMediaType");

  // Nothing stored changed and everything still answers and serves.
  auto after = session.api(kBindings + "/web-http");
  REQUIRE(after.code == 200);
  CHECK(statusOf(after)["metadata"].value("generation", 0) == generation);
  CHECK(statusOf(after)["spec"] == spec);
  CHECK(session.api(kBindings + "/broken").code == 404);
  CHECK(session.api("/healthz", {}, false).code == 200);
  CHECK(httpGet(port) == "hello from siteplane\n 200");
  CHECK(server.process().running());
}

}  // namespace siteplane::testing
