#include <catch2/catch.hpp>
#include <map>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;
using nlohmann::json;

TEST_CASE("Create, get and list answer with stored objects and server-set metadata",
          "[apiserver][crud]") {
  Harness h;
  auto created = h.call("POST", kSites, site("web").dump());
  REQUIRE(created.response.status == 201);
  json object = h.json(created);
  CHECK(object["metadata"]["namespace"] == "default");
  CHECK(object["metadata"]["generation"] == 1);
  CHECK_FALSE(object["metadata"]["uid"].get<std::string>().empty());
  CHECK_FALSE(object["metadata"]["resourceVersion"].get<std::string>().empty());

  auto got = h.call("GET", kSites + "/web");
  REQUIRE(got.response.status == 200);
  CHECK(h.json(got)["spec"]["root"] == "/srv/www");

  REQUIRE(h.call("POST", kSites, site("api").dump()).response.status == 201);
  json list = h.json(h.call("GET", kSites));
  CHECK(list["kind"] == "SiteList");
  CHECK(list["apiVersion"] == "siteplane.io/v1alpha1");
  REQUIRE(list["items"].size() == 2);
  CHECK(list["items"][0]["metadata"]["name"] == "api");
  CHECK_FALSE(list["metadata"]["resourceVersion"].get<std::string>().empty());

  json all = h.json(h.call("GET", "/apis/siteplane.io/v1alpha1/sites"));
  CHECK(all["items"].size() == 2);
  CHECK(
      h.json(h.call("GET", "/apis/siteplane.io/v1alpha1/namespaces/other/sites"))["items"].empty());
}

TEST_CASE("Errors are Status objects: 404 missing, 409 exists, 409 stale update",
          "[apiserver][errors]") {
  Harness h;
  auto missing = h.call("GET", kSites + "/nope");
  REQUIRE(missing.response.status == 404);
  json status = h.json(missing);
  CHECK(status["kind"] == "Status");
  CHECK(status["status"] == "Failure");
  CHECK(status["reason"] == "NotFound");
  CHECK(status["code"] == 404);
  CHECK(status["message"] == "sites.siteplane.io \"nope\" not found");
  CHECK(status["details"]["name"] == "nope");

  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto again = h.call("POST", kSites, site("web").dump());
  CHECK(again.response.status == 409);
  CHECK(h.json(again)["reason"] == "AlreadyExists");

  json current = h.json(h.call("GET", kSites + "/web"));
  json stale = current;
  current["spec"]["root"] = "/srv/new";
  auto updated = h.call("PUT", kSites + "/web", current.dump());
  REQUIRE(updated.response.status == 200);
  CHECK(h.json(updated)["spec"]["root"] == "/srv/new");
  CHECK(h.json(updated)["metadata"]["generation"] == 2);

  stale["spec"]["root"] = "/srv/stale";
  auto conflict = h.call("PUT", kSites + "/web", stale.dump());
  REQUIRE(conflict.response.status == 409);
  CHECK(h.json(conflict)["reason"] == "Conflict");
  CHECK_THAT(h.json(conflict)["message"].get<std::string>(),
             Catch::Contains("the object has been modified"));
  CHECK(h.json(h.call("GET", kSites + "/web"))["spec"]["root"] == "/srv/new");

  auto noSuchResource = h.call("GET", "/apis/siteplane.io/v1alpha1/namespaces/default/widgets");
  CHECK(noSuchResource.response.status == 404);
  CHECK(h.call("DELETE", kSites).response.status == 405);
}

TEST_CASE("Invalid objects get 422 with the decoder's field paths", "[apiserver][errors]") {
  Harness h;
  json bad = binding("web", 70000);
  bad["spec"]["bogus"] = true;
  auto reply = h.call("POST", kBindings, bad.dump());
  REQUIRE(reply.response.status == 422);
  json status = h.json(reply);
  CHECK(status["reason"] == "Invalid");
  CHECK_THAT(status["message"].get<std::string>(),
             Catch::StartsWith("Binding.siteplane.io \"web\" is invalid: ["));
  std::set<std::string> fields;
  for (const auto& cause : status["details"]["causes"]) fields.insert(cause["field"]);
  CHECK(fields.count("spec.port") == 1);
  CHECK(fields.count("spec.bogus") == 1);
  CHECK(h.call("GET", kBindings + "/web").response.status == 404);

  json https = binding("secure", 443);
  https["spec"]["protocol"] = "https";
  json one = h.json(h.call("POST", kBindings, https.dump()));
  REQUIRE(one["details"]["causes"].size() == 1);
  CHECK(one["details"]["causes"][0]["field"] == "spec.certificateRef");
  CHECK_THAT(one["message"].get<std::string>(), Catch::Contains("spec.certificateRef: "));
}

TEST_CASE("Malformed, oversized and unknown-type bodies get clear 4xx answers",
          "[apiserver][errors]") {
  ApiHandlerOptions options;
  options.maxBodyBytes = 1024;
  Harness h(options);
  auto malformed = h.call("POST", kSites, "{\"apiVersion\": ");
  REQUIRE(malformed.response.status == 400);
  CHECK_THAT(h.json(malformed)["message"].get<std::string>(), Catch::Contains("not valid JSON"));

  auto yaml = h.call("POST", kSites, "kind: [unclosed", {{"Content-Type", "application/yaml"}});
  REQUIRE(yaml.response.status == 400);
  CHECK_THAT(h.json(yaml)["message"].get<std::string>(), Catch::Contains("request body:1:"));

  auto goodYaml = h.call("POST", kSites,
                         "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: y\n"
                         "spec:\n  root: /srv\n",
                         {{"Content-Type", "application/yaml"}});
  CHECK(goodYaml.response.status == 201);

  auto unknown = h.call("POST", kSites, "<xml/>", {{"Content-Type", "application/xml"}});
  REQUIRE(unknown.response.status == 415);
  CHECK(h.json(unknown)["reason"] == "UnsupportedMediaType");

  auto strategic = h.call("PATCH", kSites + "/y", "{}",
                          {{"Content-Type", "application/strategic-merge-patch+json"}});
  CHECK(strategic.response.status == 415);

  auto big = h.call("POST", kSites, std::string(4096, ' '));
  REQUIRE(big.response.status == 413);
  CHECK(h.json(big)["reason"] == "RequestEntityTooLarge");

  CHECK(h.call("POST", kSites, "[1,2]").response.status == 400);
  CHECK(h.call("POST", kSites, "\"text\"").response.status == 400);
}

TEST_CASE("Delete returns the object, then it is gone", "[apiserver][crud]") {
  Harness h;
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto deleted = h.call("DELETE", kSites + "/web", R"({"propagationPolicy":"Background"})");
  REQUIRE(deleted.response.status == 200);
  CHECK(h.json(deleted)["metadata"]["name"] == "web");
  CHECK(h.call("GET", kSites + "/web").response.status == 404);
  CHECK(h.call("DELETE", kSites + "/web").response.status == 404);
}

TEST_CASE("Merge patch as kubectl client-side apply sends it", "[apiserver][patch]") {
  Harness h;
  json original = binding("web", 8080);
  original["metadata"]["annotations"] = {
      {"kubectl.kubernetes.io/last-applied-configuration", original.dump()}};
  REQUIRE(h.call("POST", kBindings + "?fieldManager=kubectl-client-side-apply", original.dump())
              .response.status == 201);
  json patch = {{"metadata",
                 {{"annotations",
                   {{"kubectl.kubernetes.io/last-applied-configuration", "{\"changed\":true}"}}}}},
                {"spec", {{"port", 8081}, {"hostName", "www.example.com"}}}};
  auto patched = h.call("PATCH", kBindings + "/web?fieldManager=kubectl-client-side-apply",
                        patch.dump(), {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(patched.response.status == 200);
  json object = h.json(patched);
  CHECK(object["spec"]["port"] == 8081);
  CHECK(object["spec"]["hostName"] == "www.example.com");
  CHECK(object["spec"]["protocol"] == "http");
  CHECK(object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] ==
        "{\"changed\":true}");
  CHECK(object["metadata"]["managedFields"][0]["manager"] == "kubectl-client-side-apply");

  auto removed = h.call("PATCH", kBindings + "/web", R"({"spec":{"hostName":null}})",
                        {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(removed.response.status == 200);
  CHECK_FALSE(h.json(removed)["spec"].contains("hostName"));

  auto invalid = h.call("PATCH", kBindings + "/web", R"({"spec":{"port":0}})",
                        {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(invalid.response.status == 422);
  CHECK(h.json(invalid)["details"]["causes"][0]["field"] == "spec.port");

  auto missing = h.call("PATCH", kBindings + "/nope", "{}",
                        {{"Content-Type", "application/merge-patch+json"}});
  CHECK(missing.response.status == 404);
}

TEST_CASE("JSON patch applies operations and reports a failed test", "[apiserver][patch]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("web", 8080).dump()).response.status == 201);
  auto patched = h.call("PATCH", kBindings + "/web",
                        R"([{"op":"test","path":"/spec/port","value":8080},
                            {"op":"replace","path":"/spec/port","value":9090},
                            {"op":"add","path":"/metadata/labels/env","value":"prod"}])",
                        {{"Content-Type", "application/json-patch+json"}});
  REQUIRE(patched.response.status == 200);
  CHECK(h.json(patched)["spec"]["port"] == 9090);
  CHECK(h.json(patched)["metadata"]["labels"]["env"] == "prod");

  auto failed =
      h.call("PATCH", kBindings + "/web", R"([{"op":"test","path":"/spec/port","value":1}])",
             {{"Content-Type", "application/json-patch+json"}});
  CHECK(failed.response.status == 422);
  CHECK(h.call("PATCH", kBindings + "/web", "{}", {{"Content-Type", "application/json-patch+json"}})
            .response.status == 400);
}

TEST_CASE("Server-side apply creates, updates and refuses conflicting managers",
          "[apiserver][apply]") {
  Harness h;
  Headers apply = {{"Content-Type", "application/apply-patch+yaml"}};
  std::string yaml =
      "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: web\n"
      "spec:\n  siteRef:\n    name: web\n  protocol: http\n  port: 8080\n";
  auto created = h.call("PATCH", kBindings + "/web?fieldManager=kubectl", yaml, apply);
  REQUIRE(created.response.status == 201);
  json object = h.json(created);
  CHECK(object["spec"]["port"] == 8080);
  REQUIRE(object["metadata"]["managedFields"].size() == 1);
  CHECK(object["metadata"]["managedFields"][0]["manager"] == "kubectl");
  CHECK(object["metadata"]["managedFields"][0]["operation"] == "Apply");
  CHECK(object["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"].contains("f:port"));

  // Re-applying the same configuration is accepted and changes nothing.
  auto same = h.call("PATCH", kBindings + "/web?fieldManager=kubectl", yaml, apply);
  REQUIRE(same.response.status == 200);
  CHECK(h.json(same)["metadata"]["generation"] == 1);

  std::string other =
      "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: web\n"
      "spec:\n  port: 9090\n";
  auto conflict = h.call("PATCH", kBindings + "/web?fieldManager=ops", other, apply);
  REQUIRE(conflict.response.status == 409);
  json status = h.json(conflict);
  CHECK(status["reason"] == "Conflict");
  CHECK(status["message"] ==
        "Apply failed with 1 conflict: conflict with \"kubectl\" using siteplane.io/v1alpha1: "
        ".spec.port");
  REQUIRE(status["details"]["causes"].size() == 1);
  CHECK(status["details"]["causes"][0]["reason"] == "FieldManagerConflict");
  CHECK(status["details"]["causes"][0]["field"] == ".spec.port");

  auto forced = h.call("PATCH", kBindings + "/web?fieldManager=ops&force=true", other, apply);
  REQUIRE(forced.response.status == 200);
  CHECK(h.json(forced)["spec"]["port"] == 9090);
  CHECK(h.json(forced)["spec"]["protocol"] == "http");

  CHECK(h.call("PATCH", kBindings + "/web", yaml, apply).response.status == 400);  // no manager
  auto invalid = h.call("PATCH", kBindings + "/web?fieldManager=kubectl",
                        "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: web\n"
                        "spec:\n  siteRef:\n    name: web\n  protocol: ftp\n",
                        apply);
  REQUIRE(invalid.response.status == 422);
  CHECK(h.json(invalid)["details"]["causes"][0]["field"] == "spec.protocol");
  auto wrongName = h.call("PATCH", kBindings + "/other?fieldManager=kubectl", yaml, apply);
  CHECK(wrongName.response.status == 400);
}

TEST_CASE("dryRun=All validates without storing", "[apiserver][dryrun]") {
  Harness h;
  auto dry = h.call("POST", kSites + "?dryRun=All", site("web").dump());
  REQUIRE(dry.response.status == 201);
  CHECK(h.json(dry)["metadata"]["name"] == "web");
  CHECK(h.call("GET", kSites + "/web").response.status == 404);

  json bad = site("web");
  bad["spec"] = json::object();
  CHECK(h.call("POST", kSites + "?dryRun=All", bad.dump()).response.status == 422);

  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto patch = h.call("PATCH", kSites + "/web?dryRun=All", R"({"spec":{"root":"/other"}})",
                      {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(patch.response.status == 200);
  CHECK(h.json(patch)["spec"]["root"] == "/other");
  CHECK(h.json(h.call("GET", kSites + "/web"))["spec"]["root"] == "/srv/www");
  CHECK(h.call("DELETE", kSites + "/web?dryRun=All").response.status == 200);
  CHECK(h.call("GET", kSites + "/web").response.status == 200);
  CHECK(h.call("POST", kSites + "?dryRun=Some", site("x").dump()).response.status == 400);
}

TEST_CASE("The status subresource reads and writes only status", "[apiserver][status]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("web", 8080).dump()).response.status == 201);
  json object = h.json(h.call("GET", kBindings + "/web/status"));
  object["status"] = {{"listenAddress", "127.0.0.1:8080"},
                      {"conditions",
                       {{{"type", "Programmed"},
                         {"status", "True"},
                         {"reason", "Programmed"},
                         {"message", "live"},
                         {"lastTransitionTime", "2026-11-25T06:00:00Z"},
                         {"observedGeneration", 1}}}}};
  object["spec"]["port"] = 1234;  // ignored by a status write
  auto put = h.call("PUT", kBindings + "/web/status", object.dump());
  REQUIRE(put.response.status == 200);
  json stored = h.json(h.call("GET", kBindings + "/web"));
  CHECK(stored["status"]["listenAddress"] == "127.0.0.1:8080");
  CHECK(stored["spec"]["port"] == 8080);

  auto patch =
      h.call("PATCH", kBindings + "/web/status", R"({"status":{"listenAddress":"127.0.0.1:9"}})",
             {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(patch.response.status == 200);
  CHECK(h.json(h.call("GET", kBindings + "/web"))["status"]["listenAddress"] == "127.0.0.1:9");

  // A write through the main resource leaves status alone.
  json main = h.json(h.call("GET", kBindings + "/web"));
  main["status"]["listenAddress"] = "changed";
  REQUIRE(h.call("PUT", kBindings + "/web", main.dump()).response.status == 200);
  CHECK(h.json(h.call("GET", kBindings + "/web"))["status"]["listenAddress"] == "127.0.0.1:9");
  CHECK(h.call("DELETE", kBindings + "/web/status").response.status == 405);
}

TEST_CASE("Table output uses the CRD printer columns and ages", "[apiserver][table]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("web", 8080).dump()).response.status == 201);
  json status = h.json(h.call("GET", kBindings + "/web"));
  status["status"] = {{"conditions",
                       {{{"type", "Programmed"},
                         {"status", "True"},
                         {"reason", "Programmed"},
                         {"message", "live"},
                         {"lastTransitionTime", "2026-11-25T06:00:00Z"},
                         {"observedGeneration", 1}}}}};
  REQUIRE(h.call("PUT", kBindings + "/web/status", status.dump()).response.status == 200);

  Headers table = {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}};
  auto reply = h.call("GET", kBindings, "", table);
  REQUIRE(reply.response.status == 200);
  json doc = h.json(reply);
  CHECK(doc["kind"] == "Table");
  CHECK(doc["apiVersion"] == "meta.k8s.io/v1");
  std::vector<std::string> names;
  for (const auto& column : doc["columnDefinitions"]) names.push_back(column["name"]);
  REQUIRE(names.size() >= 4);
  CHECK(names[0] == "Name");
  auto index = [&](const std::string& name) {
    auto it = std::find(names.begin(), names.end(), name);
    REQUIRE(it != names.end());
    return static_cast<size_t>(it - names.begin());
  };
  REQUIRE(doc["rows"].size() == 1);
  const json& cells = doc["rows"][0]["cells"];
  CHECK(cells[0] == "web");
  CHECK(cells[index("Port")] == 8080);
  CHECK(cells[index("Site")] == "web");
  CHECK(cells[index("Programmed")] == "True");
  CHECK(doc["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
  CHECK(doc["rows"][0]["object"]["metadata"]["name"] == "web");
  // The store and the handler share the fixed clock: the object is 0s old.
  CHECK(cells[index("Age")] == "0s");

  json single = h.json(h.call("GET", kBindings + "/web", "", table));
  CHECK(single["kind"] == "Table");
  CHECK(single["rows"].size() == 1);

  auto onlyProtobuf =
      h.call("GET", kBindings, "", {{"Accept", "application/vnd.kubernetes.protobuf"}});
  CHECK(onlyProtobuf.response.status == 406);
}

TEST_CASE("Label and field selectors filter lists", "[apiserver][selector]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("a", 8080).dump()).response.status == 201);
  json other = binding("b", 8081);
  other["metadata"]["labels"]["tier"] = "api";
  REQUIRE(h.call("POST", kBindings, other.dump()).response.status == 201);
  json web = h.json(h.call("GET", kBindings + "?labelSelector=tier%3Dweb"));
  REQUIRE(web["items"].size() == 1);
  CHECK(web["items"][0]["metadata"]["name"] == "a");
  json byName = h.json(h.call("GET", kBindings + "?fieldSelector=metadata.name%3Db"));
  REQUIRE(byName["items"].size() == 1);
  CHECK(byName["items"][0]["metadata"]["name"] == "b");
  CHECK(h.call("GET", kBindings + "?labelSelector=%21%21").response.status == 400);
  CHECK(h.call("GET", kBindings + "?fieldSelector=nonsense").response.status == 400);
}

TEST_CASE("A watch streams ADDED, MODIFIED and DELETED events", "[apiserver][watch]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("first", 8080).dump()).response.status == 201);
  auto reply = h.call("GET", kBindings + "?watch=1&timeoutSeconds=30");
  REQUIRE(reply.response.status == 200);
  REQUIRE(reply.watch != nullptr);
  CHECK(reply.watch->timeout() == std::chrono::seconds(30));
  auto sink = std::make_shared<CollectingSink>();
  reply.watch->start(sink);

  REQUIRE(h.call("POST", kBindings, binding("second", 8081).dump()).response.status == 201);
  REQUIRE(h.call("PATCH", kBindings + "/second", R"({"spec":{"port":9000}})",
                 {{"Content-Type", "application/merge-patch+json"}})
              .response.status == 200);
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);  // other kind
  REQUIRE(h.call("DELETE", kBindings + "/second").response.status == 200);

  auto events = sink->events();
  REQUIRE(events.size() == 4);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[0]["object"]["metadata"]["name"] == "first");
  CHECK(events[1]["type"] == "ADDED");
  CHECK(events[1]["object"]["metadata"]["name"] == "second");
  CHECK(events[2]["type"] == "MODIFIED");
  CHECK(events[2]["object"]["spec"]["port"] == 9000);
  CHECK(events[3]["type"] == "DELETED");

  reply.watch->cancel();
  REQUIRE(h.call("POST", kBindings, binding("third", 8082).dump()).response.status == 201);
  CHECK(sink->events().size() == 4);
}

TEST_CASE("A watch from a resourceVersion replays what happened after it", "[apiserver][watch]") {
  Harness h;
  json first = h.json(h.call("POST", kBindings, binding("first", 8080).dump()));
  REQUIRE(h.call("POST", kBindings, binding("second", 8081).dump()).response.status == 201);
  std::string version = first["metadata"]["resourceVersion"];
  auto reply = h.call("GET",
                      kBindings + "?watch=true&resourceVersion=" + version +
                          "&fieldSelector=metadata.name%3Dsecond",
                      "", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  REQUIRE(reply.watch != nullptr);
  auto sink = std::make_shared<CollectingSink>();
  reply.watch->start(sink);
  REQUIRE(h.call("PATCH", kBindings + "/first", R"({"spec":{"port":1000}})",
                 {{"Content-Type", "application/merge-patch+json"}})
              .response.status == 200);
  REQUIRE(h.call("PATCH", kBindings + "/second", R"({"spec":{"port":2000}})",
                 {{"Content-Type", "application/merge-patch+json"}})
              .response.status == 200);
  auto events = sink->events();
  REQUIRE(events.size() == 2);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[0]["object"]["kind"] == "Table");
  CHECK_FALSE(events[0]["object"]["columnDefinitions"].empty());
  CHECK(events[0]["object"]["rows"][0]["cells"][0] == "second");
  CHECK(events[1]["type"] == "MODIFIED");
  CHECK(events[1]["object"]["columnDefinitions"].empty());
  reply.watch->cancel();

  CHECK(h.call("GET", kBindings + "?watch=1&resourceVersion=abc").response.status == 400);
}

TEST_CASE("Objects declared by a manifest file refuse API writes unless overridden",
          "[apiserver][ownership]") {
  json declared = site("web");
  declared["metadata"]["annotations"] = {{kManifestFileAnnotation, "manifests/web.yaml"}};
  {
    Harness h;
    // The manifest source writes through the store, not the API.
    REQUIRE(h.store->createObject(declared).isOk());
    auto patch = h.call("PATCH", kSites + "/web", R"({"spec":{"root":"/x"}})",
                        {{"Content-Type", "application/merge-patch+json"}});
    REQUIRE(patch.response.status == 403);
    CHECK(h.json(patch)["reason"] == "Forbidden");
    CHECK_THAT(h.json(patch)["message"].get<std::string>(),
               Catch::Contains("manifests/web.yaml") && Catch::Contains("--allow-api-override"));
    CHECK(h.call("DELETE", kSites + "/web").response.status == 403);
    json current = h.json(h.call("GET", kSites + "/web"));
    CHECK(h.call("PUT", kSites + "/web", current.dump()).response.status == 403);
    CHECK(h.call("PATCH", kSites + "/web?fieldManager=kubectl", site("web", "/y").dump(),
                 {{"Content-Type", "application/apply-patch+yaml"}})
              .response.status == 403);
    CHECK(h.json(h.call("GET", kSites + "/web"))["spec"]["root"] == "/srv/www");
    // Creating an object that claims a file is refused too.
    json claim = declared;
    claim["metadata"]["name"] = "other";
    CHECK(h.call("POST", kSites, claim.dump()).response.status == 403);
  }
  {
    ApiHandlerOptions options;
    options.allowApiOverride = true;
    Harness h(options);
    REQUIRE(h.store->createObject(declared).isOk());
    CHECK(h.call("PATCH", kSites + "/web", R"({"spec":{"root":"/x"}})",
                 {{"Content-Type", "application/merge-patch+json"}})
              .response.status == 200);
    CHECK(h.call("DELETE", kSites + "/web").response.status == 200);
  }
}

TEST_CASE("Requests without the bearer token get 401, probes stay open", "[apiserver][auth]") {
  ApiHandlerOptions options;
  options.token = "s3cret-token";
  Harness h(options);
  auto none = h.call("GET", kSites);
  REQUIRE(none.response.status == 401);
  CHECK(h.json(none)["reason"] == "Unauthorized");
  CHECK(h.call("GET", kSites, "", {{"Authorization", "Bearer wrong"}}).response.status == 401);
  CHECK(h.call("GET", kSites, "", {{"Authorization", "Basic s3cret-token"}}).response.status ==
        401);
  CHECK(h.call("GET", kSites, "", {{"authorization", "Bearer s3cret-token"}}).response.status ==
        200);
  CHECK(h.call("GET", "/healthz").response.status == 200);
  CHECK(h.call("GET", "/metrics").response.status == 401);
}

TEST_CASE("Readiness fails with 500 naming each failing check, as Kubernetes' readyz does",
          "[apiserver][health]") {
  std::string tableProblem = "no binding table has been applied yet";
  ApiHandlerOptions options;
  options.token = "s3cret-token";
  options.readyChecks = {{"store", [] { return std::string(); }},
                         {"table", [&] { return tableProblem; }}};
  Harness h(options);
  CHECK(h.call("GET", "/healthz").response.status == 200);
  auto notReady = h.call("GET", "/readyz");  // no token needed
  CHECK(notReady.response.status == 500);
  CHECK(notReady.response.body ==
        "[+]store ok\n"
        "[-]table failed: no binding table has been applied yet\n"
        "readyz check failed\n");

  tableProblem.clear();
  auto ready = h.call("GET", "/readyz");
  CHECK(ready.response.status == 200);
  CHECK(ready.response.body == "ok");
  auto verbose = h.call("GET", "/readyz?verbose");
  CHECK(verbose.response.status == 200);
  CHECK(verbose.response.body == "[+]store ok\n[+]table ok\nreadyz check passed\n");
}

TEST_CASE("Metrics carry the API's request counts and the process's own families",
          "[apiserver][health]") {
  ApiHandlerOptions options;
  options.metrics = [](siteplane::metrics::ExpositionWriter& out) {
    if (siteplane::Status s =
            out.declare("siteplane_table_generation", siteplane::metrics::MetricType::kGauge,
                        "Generation of the live table.");
        !s)
      return s;
    return out.add("siteplane_table_generation", {}, uint64_t{7});
  };
  Harness h(options);
  REQUIRE(h.call("GET", kSites + "/missing").response.status == 404);
  auto metrics = h.call("GET", "/metrics");
  REQUIRE(metrics.response.status == 200);
  CHECK(metrics.response.contentType == "text/plain; version=0.0.4; charset=utf-8");
  CHECK_THAT(metrics.response.body,
             Catch::Contains("# TYPE siteplane_api_requests_total counter\n"));
  CHECK_THAT(metrics.response.body,
             Catch::Contains("siteplane_api_requests_total{verb=\"get\",code=\"404\"} 1\n"));
  CHECK_THAT(metrics.response.body, Catch::Contains("# TYPE siteplane_table_generation gauge\n"
                                                    "siteplane_table_generation 7\n"));
}

TEST_CASE("Metrics are served when the process's families fail, and say what failed in the log",
          "[apiserver][health]") {
  ApiHandlerOptions options;
  options.metrics = [](siteplane::metrics::ExpositionWriter& out) {
    return out.add("siteplane_undeclared", {}, uint64_t{1});
  };
  Harness h(options);
  REQUIRE(h.call("GET", "/healthz").response.status == 200);
  auto metrics = h.call("GET", "/metrics");
  CHECK(metrics.response.status == 200);
  CHECK_THAT(metrics.response.body,
             Catch::Contains("siteplane_api_requests_total{verb=\"health\",code=\"200\"} 1\n"));
  CHECK_THAT(metrics.response.body, !Catch::Contains("siteplane_undeclared"));
}

TEST_CASE("Core v1 events are listed and filtered like kubectl describe asks",
          "[apiserver][events]") {
  Harness h;
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", "web-1"}, {"namespace", "default"}}},
      {"involvedObject", {{"kind", "Binding"}, {"name", "web"}, {"namespace", "default"}}},
      {"type", "Warning"},
      {"reason", "PortInUse"},
      {"message", "port 80 is taken"},
      {"lastTimestamp", "2026-09-21T00:00:00Z"}};
  REQUIRE(h.store->createObject(event).isOk());
  auto list = h.call("GET",
                     "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb%2C"
                     "involvedObject.kind%3DBinding&limit=500");
  REQUIRE(list.response.status == 200);
  json doc = h.json(list);
  CHECK(doc["kind"] == "EventList");
  REQUIRE(doc["items"].size() == 1);
  CHECK(doc["items"][0]["reason"] == "PortInUse");
  json table = h.json(h.call("GET", "/api/v1/events", "",
                             {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}}));
  REQUIRE(table["rows"].size() == 1);
  CHECK(table["rows"][0]["cells"][2] == "Warning");
}

TEST_CASE("fieldValidation Warn and Ignore drop unknown fields, Strict refuses them",
          "[apiserver][validation]") {
  Harness h;
  json extra = site("web");
  extra["spec"]["bogus"] = 1;
  auto strict = h.call("POST", kSites + "?fieldValidation=Strict", extra.dump());
  REQUIRE(strict.response.status == 422);
  CHECK(h.json(strict)["details"]["causes"][0]["field"] == "spec.bogus");

  auto warned = h.call("POST", kSites + "?fieldValidation=Warn", extra.dump());
  REQUIRE(warned.response.status == 201);
  CHECK_FALSE(h.json(warned)["spec"].contains("bogus"));
  REQUIRE(warned.response.headers.size() == 1);
  CHECK(warned.response.headers[0].first == "Warning");
  CHECK(warned.response.headers[0].second == "299 - \"unknown field \\\"spec.bogus\\\"\"");

  extra["metadata"]["name"] = "quiet";
  auto ignored = h.call("POST", kSites + "?fieldValidation=Ignore", extra.dump());
  REQUIRE(ignored.response.status == 201);
  CHECK(ignored.response.headers.empty());

  json invalid = extra;
  invalid["metadata"]["name"] = "bad";
  invalid["spec"].erase("root");
  CHECK(h.call("POST", kSites + "?fieldValidation=Ignore", invalid.dump()).response.status == 422);
  CHECK(h.call("POST", kSites + "?fieldValidation=Loose", site("x").dump()).response.status == 400);
}

TEST_CASE(
    "A Strict write answers an unknown field as FieldValueNotSupported, a wrong value as "
    "FieldValueInvalid",
    "[apiserver][validation]") {
  Harness h;
  json object = site("web");
  object["spec"]["bogus"] = 1;
  object["spec"].erase("root");
  auto refused = h.call("POST", kSites, object.dump());
  REQUIRE(refused.response.status == 422);
  json status = h.json(refused);
  std::map<std::string, std::string> reasons;
  for (const auto& cause : status["details"]["causes"]) {
    reasons[cause["field"].get<std::string>()] = cause["reason"].get<std::string>();
  }
  CHECK(reasons == std::map<std::string, std::string>{{"spec", "FieldValueInvalid"},
                                                      {"spec.bogus", "FieldValueNotSupported"}});
}

TEST_CASE("A reply carries the Kubernetes reason of its failure", "[apiserver][errors]") {
  Harness h;
  auto created = h.call("POST", kSites, site("web").dump());
  REQUIRE(created.response.status == 201);
  CHECK(created.reason.empty());
  auto duplicate = h.call("POST", kSites, site("web").dump());
  REQUIRE(duplicate.response.status == 409);
  CHECK(duplicate.reason == "AlreadyExists");
  CHECK(h.json(duplicate)["reason"] == "AlreadyExists");
  CHECK(h.call("GET", kSites + "/none").reason == "NotFound");
}

TEST_CASE("Unknown fields dropped under fieldValidation Ignore leave no trace in managedFields",
          "[apiserver][validation][bounds]") {
  Harness h;
  // An unknown field nesting 9,000 levels: accepted (under the 10,000 bound) and dropped. The
  // stored object must not record it as owned, or the object would nest deeper than any client
  // can decode (managedFields adds its own levels on top). The body is written as text: dumping
  // a json this deep on the test's own thread would need the API threads' stack.
  std::string open, close;
  for (int i = 0; i < 9000; ++i) {
    open += R"({"n":)";
    close += "}";
  }
  std::string deep = site("deep").dump();
  auto spec = deep.find(R"("spec":{)");
  REQUIRE(spec != std::string::npos);
  deep.insert(spec + 8, R"("bogus":)" + open + "1" + close + ",");
  auto created = h.call("POST", kSites + "?fieldValidation=Ignore&fieldManager=tester", deep);
  INFO(created.response.body.substr(0, 400));
  REQUIRE(created.response.status == 201);
  json stored = h.json(created);
  CHECK_FALSE(stored["spec"].contains("bogus"));
  REQUIRE(stored["metadata"]["managedFields"].size() == 1);
  json owned = stored["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
  CHECK_FALSE(owned.contains("f:bogus"));
  CHECK(owned.contains("f:root"));
  CHECK(created.response.body.size() < 4096);

  // The same through an update: the dropped field leaves the updater's entry too.
  json update = stored;
  update["spec"]["bogus"] = {{"a", {{"b", 1}}}};
  auto updated =
      h.call("PUT", kSites + "/deep?fieldValidation=Ignore&fieldManager=other", update.dump());
  REQUIRE(updated.response.status == 200);
  CHECK(updated.response.body.find("bogus") == std::string::npos);
}

TEST_CASE("A watch with a label selector reports objects leaving and entering it",
          "[apiserver][watch]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("a", 8080).dump()).response.status == 201);
  auto reply = h.call("GET", kBindings + "?watch=1&labelSelector=tier%3Dweb");
  REQUIRE(reply.watch != nullptr);
  auto sink = std::make_shared<CollectingSink>();
  reply.watch->start(sink);
  Headers merge = {{"Content-Type", "application/merge-patch+json"}};
  REQUIRE(h.call("PATCH", kBindings + "/a", R"({"metadata":{"labels":{"tier":"api"}}})", merge)
              .response.status == 200);
  REQUIRE(h.call("PATCH", kBindings + "/a", R"({"spec":{"port":9}})", merge).response.status ==
          200);
  REQUIRE(h.call("PATCH", kBindings + "/a", R"({"metadata":{"labels":{"tier":"web"}}})", merge)
              .response.status == 200);
  auto events = sink->events();
  REQUIRE(events.size() == 3);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[1]["type"] == "DELETED");
  CHECK(events[2]["type"] == "ADDED");
  CHECK(events[2]["object"]["spec"]["port"] == 9);
  reply.watch->cancel();
}

TEST_CASE("Core v1 events are created through the API, and a bad name is refused with its path",
          "[apiserver][events]") {
  Harness h;
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", "web-checked"}}},
      {"involvedObject", {{"kind", "Binding"}, {"name", "web"}, {"namespace", "default"}}},
      {"type", "Normal"},
      {"reason", "Checked"},
      {"message", "all good"}};
  auto created = h.call("POST", "/api/v1/namespaces/default/events", event.dump());
  REQUIRE(created.response.status == 201);
  CHECK(h.json(created)["reason"] == "Checked");

  event["metadata"]["name"] = "web.17a2b3c4";
  auto refused = h.call("POST", "/api/v1/namespaces/default/events", event.dump());
  INFO(refused.response.body);
  REQUIRE(refused.response.status == 422);
  json status = h.json(refused);
  CHECK(status["message"] ==
        "Event \"web.17a2b3c4\" is invalid: metadata.name: Invalid value: \"web.17a2b3c4\": must "
        "be a DNS-1123 label (lower-case letters, digits and '-', alphanumeric at both ends, at "
        "most 63 characters)");
  CHECK(status["details"]["causes"][0]["field"] == "metadata.name");
}

TEST_CASE("A list with a limit pages through one snapshot with continue tokens",
          "[apiserver][list]") {
  Harness h;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(h.call("POST", kBindings, binding("b" + std::to_string(i), 8080 + i).dump())
                .response.status == 201);
  }
  json first = h.json(h.call("GET", kBindings + "?limit=2"));
  REQUIRE(first["items"].size() == 2);
  std::string token = first["metadata"]["continue"];
  CHECK(first["metadata"]["remainingItemCount"] == 3);
  std::string version = first["metadata"]["resourceVersion"];

  // Changes after the first page do not show up in later pages.
  REQUIRE(h.call("POST", kBindings, binding("b5", 8090).dump()).response.status == 201);
  REQUIRE(h.call("DELETE", kBindings + "/b4").response.status == 200);

  std::vector<std::string> seen;
  for (const auto& item : first["items"]) seen.push_back(item["metadata"]["name"]);
  while (!token.empty()) {
    auto reply = h.call("GET", kBindings + "?limit=2&continue=" + token);
    REQUIRE(reply.response.status == 200);
    json page = h.json(reply);
    CHECK(page["metadata"]["resourceVersion"] == version);
    for (const auto& item : page["items"]) seen.push_back(item["metadata"]["name"]);
    token = page["metadata"].value("continue", "");
  }
  CHECK(seen == std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"});

  // Tables page too (kubectl get --chunk-size).
  json table = h.json(h.call("GET", kBindings + "?limit=4", "",
                             {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}}));
  CHECK(table["rows"].size() == 4);
  CHECK(table["metadata"].contains("continue"));

  CHECK(h.call("GET", kBindings + "?limit=-1").response.status == 400);
  CHECK(h.call("GET", kBindings + "?limit=2&continue=nonsense").response.status == 400);
  std::string another = h.json(h.call("GET", kBindings + "?limit=1"))["metadata"]["continue"];
  CHECK(
      h.call("GET", kBindings + "?limit=1&resourceVersion=1&continue=" + another).response.status ==
      400);
  CHECK(h.call("GET", kSites + "?limit=1&continue=" + another).response.status == 400);
}

TEST_CASE("A watch with allowWatchBookmarks gets BOOKMARKs at the resourceVersion it reached",
          "[apiserver][watch]") {
  Harness h;
  REQUIRE(h.call("POST", kBindings, binding("first", 8080).dump()).response.status == 201);
  auto reply = h.call("GET", kBindings + "?watch=1&allowWatchBookmarks=true");
  REQUIRE(reply.watch != nullptr);
  REQUIRE(reply.watch->bookmarks());
  auto sink = std::make_shared<CollectingSink>();
  reply.watch->start(sink);
  // A write this watch does not match still moves the resourceVersion a bookmark reports.
  json web = h.json(h.call("POST", kSites, site("web").dump()));
  reply.watch->pushBookmark();
  auto events = sink->events();
  REQUIRE(events.size() == 2);
  CHECK(events[0]["type"] == "ADDED");
  CHECK(events[1]["type"] == "BOOKMARK");
  CHECK(events[1]["object"]["kind"] == "Binding");
  CHECK(events[1]["object"]["metadata"]["resourceVersion"] == web["metadata"]["resourceVersion"]);
  reply.watch->cancel();

  auto plain = h.call("GET", kBindings + "?watch=1");
  REQUIRE(plain.watch != nullptr);
  CHECK_FALSE(plain.watch->bookmarks());
  plain.watch->cancel();
}

TEST_CASE("A watch without timeoutSeconds ends after 30 to 60 minutes, as Kubernetes' do",
          "[apiserver][watch]") {
  Harness h;
  for (int i = 0; i < 5; ++i) {
    auto reply = h.call("GET", kBindings + "?watch=1");
    REQUIRE(reply.watch != nullptr);
    CHECK(reply.watch->timeout() >= std::chrono::minutes(30));
    CHECK(reply.watch->timeout() <= std::chrono::minutes(60));
    reply.watch->cancel();
  }
  auto huge = h.call("GET", kBindings + "?watch=1&timeoutSeconds=99999999999999999");
  REQUIRE(huge.watch != nullptr);
  CHECK(huge.watch->timeout() == std::chrono::hours(24));
  huge.watch->cancel();
  CHECK(h.call("GET", kBindings + "?watch=1&timeoutSeconds=-5").response.status == 400);
  CHECK(h.call("GET", kBindings + "?watch=1&timeoutSeconds=5s").response.status == 400);
}

TEST_CASE("limit and timeoutSeconds are whole decimal numbers, refused otherwise",
          "[apiserver][list]") {
  Harness h;
  for (const std::string bad : {"2x", " 2", "", "0x10", "99999999999999999999", "1.5"}) {
    INFO(bad);
    auto limit = h.call("GET", kBindings + "?limit=" + bad);
    auto timeout = h.call("GET", kBindings + "?watch=1&timeoutSeconds=" + bad);
    if (bad.empty()) {
      CHECK(limit.response.status == 200);  // an empty parameter is no parameter
      continue;
    }
    REQUIRE(limit.response.status == 400);
    CHECK(h.json(limit)["message"] == "limit: \"" + bad + "\" is not a non-negative integer");
    REQUIRE(timeout.response.status == 400);
    CHECK(h.json(timeout)["message"] ==
          "timeoutSeconds: \"" + bad + "\" is not a non-negative number of seconds");
  }
  CHECK(h.call("GET", kBindings + "?limit=0").response.status == 200);
}

TEST_CASE(
    "A dry-run update answers with the object as it would be stored, server metadata "
    "included (what kubectl diff compares)",
    "[apiserver][dryrun]") {
  Harness h;
  json stored = h.json(h.call("POST", kSites, site("web").dump()));
  auto patch = h.call("PATCH", kSites + "/web?dryRun=All", R"({"spec":{"root":"/other"}})",
                      {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(patch.response.status == 200);
  json preview = h.json(patch);
  CHECK(preview["spec"]["root"] == "/other");
  for (const char* field : {"uid", "creationTimestamp", "resourceVersion"})
    CHECK(preview["metadata"][field] == stored["metadata"][field]);
  CHECK(preview["metadata"]["generation"] == 2);

  // A change outside the spec leaves the generation alone.
  auto labelled =
      h.call("PATCH", kSites + "/web?dryRun=All", R"({"metadata":{"labels":{"tier":"web"}}})",
             {{"Content-Type", "application/merge-patch+json"}});
  REQUIRE(labelled.response.status == 200);
  CHECK(h.json(labelled)["metadata"]["generation"] == 1);
  CHECK(h.json(labelled)["metadata"]["uid"] == stored["metadata"]["uid"]);
  CHECK(h.json(h.call("GET", kSites + "/web")) == stored);
}
