#include <catch2/catch.hpp>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;
using nlohmann::json;

namespace {

const json* findResource(const json& list, const std::string& name) {
  for (const auto& resource : list["resources"]) {
    if (resource["name"] == name) return &resource;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("The embedded CRDs give a registry with the four siteplane kinds and core events",
          "[apiserver][discovery]") {
  auto registry = builtinResourceRegistry();
  REQUIRE(registry.isOk());
  for (const char* kind : {"Site", "Binding", "Certificate", "Issuer"}) {
    const ResourceType* type = registry->findByKind("siteplane.io/v1alpha1", kind);
    REQUIRE(type != nullptr);
    CHECK(type->namespaced);
    CHECK(type->statusSubresource);
    CHECK(type->schema.is_object());
  }
  CHECK(registry->findByPlural("", "v1", "events") != nullptr);
}

TEST_CASE("Discovery lists the group, its resources, verbs and the status subresource",
          "[apiserver][discovery]") {
  Harness h;
  auto version = h.call("GET", "/version");
  CHECK(version.response.status == 200);
  CHECK(h.json(version)["major"] == "1");

  json groups = h.json(h.call("GET", "/apis"));
  CHECK(groups["kind"] == "APIGroupList");
  REQUIRE(groups["groups"].size() == 1);
  CHECK(groups["groups"][0]["name"] == "siteplane.io");
  CHECK(groups["groups"][0]["preferredVersion"]["groupVersion"] == "siteplane.io/v1alpha1");

  json core = h.json(h.call("GET", "/api"));
  CHECK(core["kind"] == "APIVersions");
  CHECK(core["versions"] == json{"v1"});

  CHECK(h.json(h.call("GET", "/apis/siteplane.io"))["kind"] == "APIGroup");

  auto resources = h.call("GET", "/apis/siteplane.io/v1alpha1");
  REQUIRE(resources.response.status == 200);
  json list = h.json(resources);
  CHECK(list["groupVersion"] == "siteplane.io/v1alpha1");
  const json* bindings = findResource(list, "bindings");
  REQUIRE(bindings != nullptr);
  CHECK((*bindings)["kind"] == "Binding");
  CHECK((*bindings)["singularName"] == "binding");
  CHECK((*bindings)["namespaced"] == true);
  CHECK((*bindings)["categories"] == json{"siteplane"});
  for (const char* verb : {"get", "list", "watch", "create", "update", "patch", "delete"}) {
    CHECK(std::find((*bindings)["verbs"].begin(), (*bindings)["verbs"].end(), verb) !=
          (*bindings)["verbs"].end());
  }
  REQUIRE(findResource(list, "bindings/status") != nullptr);
  CHECK((*findResource(list, "bindings/status"))["verbs"] == json{"get", "patch", "update"});

  json events = h.json(h.call("GET", "/api/v1"));
  REQUIRE(findResource(events, "events") != nullptr);
  CHECK(h.call("GET", "/apis/other.io/v1").response.status == 404);
}

TEST_CASE("Aggregated discovery is served when the Accept header asks for it",
          "[apiserver][discovery]") {
  Harness h;
  Headers accept = {{"Accept",
                     "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                     "application/json"}};
  auto apis = h.call("GET", "/apis", "", accept);
  REQUIRE(apis.response.status == 200);
  CHECK(apis.response.contentType ==
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  json doc = h.json(apis);
  CHECK(doc["kind"] == "APIGroupDiscoveryList");
  CHECK(doc["apiVersion"] == "apidiscovery.k8s.io/v2");
  REQUIRE(doc["items"].size() == 1);
  CHECK(doc["items"][0]["metadata"]["name"] == "siteplane.io");
  const json& version = doc["items"][0]["versions"][0];
  CHECK(version["version"] == "v1alpha1");
  bool sawBinding = false;
  for (const auto& resource : version["resources"]) {
    if (resource["resource"] != "bindings") continue;
    sawBinding = true;
    CHECK(resource["responseKind"]["kind"] == "Binding");
    CHECK(resource["scope"] == "Namespaced");
    CHECK(resource["subresources"][0]["subresource"] == "status");
  }
  CHECK(sawBinding);

  json core = h.json(h.call("GET", "/api", "", accept));
  REQUIRE(core["items"].size() == 1);
  CHECK(core["items"][0]["metadata"]["name"] == "");
  CHECK(core["items"][0]["versions"][0]["resources"][0]["resource"] == "events");
}

TEST_CASE("OpenAPI v3 documents carry the CRD schemas, meta definitions and field validation",
          "[apiserver][openapi]") {
  Harness h;
  json index = h.json(h.call("GET", "/openapi/v3"));
  REQUIRE(index["paths"].contains("apis/siteplane.io/v1alpha1"));
  std::string url = index["paths"]["apis/siteplane.io/v1alpha1"]["serverRelativeURL"];
  CHECK_THAT(url, Catch::StartsWith("/openapi/v3/apis/siteplane.io/v1alpha1?hash="));

  auto reply = h.call("GET", url);
  REQUIRE(reply.response.status == 200);
  json doc = h.json(reply);
  const json& schemas = doc["components"]["schemas"];
  REQUIRE(schemas.contains("io.siteplane.v1alpha1.Binding"));
  const json& binding = schemas["io.siteplane.v1alpha1.Binding"];
  CHECK(binding["x-kubernetes-group-version-kind"][0] ==
        json{{"group", "siteplane.io"}, {"kind", "Binding"}, {"version", "v1alpha1"}});
  CHECK(binding["properties"]["spec"]["properties"].contains("siteRef"));
  CHECK(binding["properties"]["metadata"]["allOf"][0]["$ref"] ==
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  CHECK(schemas.contains("io.siteplane.v1alpha1.BindingList"));
  for (const char* meta : {"ObjectMeta", "ListMeta", "Status", "ManagedFieldsEntry", "Time"}) {
    CHECK(schemas.contains(std::string("io.k8s.apimachinery.pkg.apis.meta.v1.") + meta));
  }
  // kubectl decides between server-side and client-side validation by looking for the
  // fieldValidation parameter on the PATCH operation of the kind.
  const json& patch =
      doc["paths"]["/apis/siteplane.io/v1alpha1/namespaces/{namespace}/bindings/{name}"]["patch"];
  CHECK(patch["x-kubernetes-group-version-kind"]["kind"] == "Binding");
  bool fieldValidation = false;
  for (const auto& param : patch["parameters"]) {
    fieldValidation |= param["name"] == "fieldValidation" && param["in"] == "query";
  }
  CHECK(fieldValidation);
  CHECK(h.call("GET", "/openapi/v3/apis/other.io/v1").response.status == 404);
}

TEST_CASE("OpenAPI v3 serves the core group's Event at api/v1, so kubectl validates Events",
          "[apiserver][openapi]") {
  Harness h;
  json index = h.json(h.call("GET", "/openapi/v3"));
  REQUIRE(index["paths"].contains("api/v1"));
  std::string url = index["paths"]["api/v1"]["serverRelativeURL"];
  CHECK_THAT(url, Catch::StartsWith("/openapi/v3/api/v1?hash="));
  auto reply = h.call("GET", url);
  REQUIRE(reply.response.status == 200);
  json doc = h.json(reply);
  const json& event = doc["components"]["schemas"]["io.k8s.api.core.v1.Event"];
  CHECK(event["x-kubernetes-group-version-kind"][0] ==
        json{{"group", ""}, {"kind", "Event"}, {"version", "v1"}});
  for (const char* field : {"involvedObject", "reason", "message", "type", "count",
                            "firstTimestamp", "lastTimestamp", "source", "metadata"})
    CHECK(event["properties"].contains(field));
  CHECK(event["properties"]["involvedObject"]["properties"].contains("uid"));
  CHECK(doc["paths"].contains("/api/v1/namespaces/{namespace}/events/{name}"));
}
