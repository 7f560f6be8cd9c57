// GET /openapi/v2: the Swagger 2.0 document kubectl 1.20 (and any client without OpenAPI v3)
// validates against, in JSON and in gnostic's protobuf, negotiated on Accept as kube-apiserver
// does.

#include <catch2/catch.hpp>

#include "openapiv2/OpenAPIv2.pb.h"
#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;
using nlohmann::json;

namespace {

constexpr const char* kProtobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

std::string header(const ApiResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return "";
}

const openapi::v2::Schema* definition(const openapi::v2::Document& document,
                                      const std::string& name) {
  for (const auto& named : document.definitions().additional_properties())
    if (named.name() == name) return &named.value();
  return nullptr;
}

const openapi::v2::Schema* property(const openapi::v2::Schema& schema, const std::string& name) {
  for (const auto& named : schema.properties().additional_properties())
    if (named.name() == name) return &named.value();
  return nullptr;
}

std::string extension(const openapi::v2::Schema& schema, const std::string& name) {
  for (const auto& named : schema.vendor_extension())
    if (named.name() == name) return named.value().yaml();
  return "";
}

}  // namespace

TEST_CASE("OpenAPI v2 in JSON carries the CRD schemas as swagger 2.0 definitions",
          "[apiserver][openapi]") {
  Harness h;
  for (const char* accept : {"", "application/json", "*/*"}) {
    INFO("Accept: " << accept);
    Headers headers;
    if (*accept) headers["Accept"] = accept;
    auto reply = h.call("GET", "/openapi/v2", "", headers);
    REQUIRE(reply.response.status == 200);
    CHECK(reply.response.contentType == "application/json");
    json doc = h.json(reply);
    CHECK(doc["swagger"] == "2.0");
    const json& definitions = doc["definitions"];
    REQUIRE(definitions.contains("io.siteplane.v1alpha1.Site"));
    const json& binding = definitions["io.siteplane.v1alpha1.Binding"];
    CHECK(binding["x-kubernetes-group-version-kind"][0] ==
          json{{"group", "siteplane.io"}, {"kind", "Binding"}, {"version", "v1alpha1"}});
    // v3's allOf-wrapped $ref is a plain v2 $ref into #/definitions.
    CHECK(binding["properties"]["metadata"]["$ref"] ==
          "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    CHECK(binding["properties"]["spec"]["properties"].contains("siteRef"));
    CHECK_FALSE(binding.dump().find("anyOf") != std::string::npos);
    CHECK_FALSE(binding.dump().find("#/components/") != std::string::npos);
    CHECK(definitions.contains("io.k8s.api.core.v1.Event"));
    CHECK(definitions.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
    // The v3 requestBody is a body parameter; query parameters carry their type inline.
    const json& post =
        doc["paths"]["/apis/siteplane.io/v1alpha1/namespaces/{namespace}/sites"]["post"];
    bool body = false, fieldValidation = false;
    for (const auto& parameter : post["parameters"]) {
      body |= parameter["in"] == "body" &&
              parameter["schema"]["$ref"] == "#/definitions/io.siteplane.v1alpha1.Site";
      fieldValidation |= parameter["name"] == "fieldValidation" && parameter["type"] == "string";
    }
    CHECK(body);
    CHECK(fieldValidation);
  }
}

TEST_CASE("OpenAPI v2 in protobuf is gnostic's openapi_v2.Document, also at /swagger-2.0.0.pb-v1",
          "[apiserver][openapi]") {
  Harness h;
  for (const char* path : {"/openapi/v2", "/swagger-2.0.0.pb-v1"}) {
    for (const char* accept :
         {kProtobuf, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
          "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json;q=0.9"}) {
      INFO(path << " Accept: " << accept);
      auto reply = h.call("GET", path, "", Headers{{"Accept", accept}});
      REQUIRE(reply.response.status == 200);
      // As kube-apiserver labels it: kubectl's Go mime parser refuses the '@' of kProtobuf.
      CHECK(reply.response.contentType == "application/octet-stream");
      openapi::v2::Document document;
      REQUIRE(document.ParseFromString(reply.response.body));
      CHECK(document.swagger() == "2.0");
      const openapi::v2::Schema* site = definition(document, "io.siteplane.v1alpha1.Site");
      REQUIRE(site != nullptr);
      CHECK(site->type().value(0) == "object");
      CHECK_THAT(extension(*site, "x-kubernetes-group-version-kind"),
                 Catch::Contains("\"kind\":\"Site\""));
      const openapi::v2::Schema* metadata = property(*site, "metadata");
      REQUIRE(metadata != nullptr);
      CHECK(metadata->_ref() == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
      const openapi::v2::Schema* spec = property(*site, "spec");
      REQUIRE(spec != nullptr);
      CHECK(property(*spec, "root") != nullptr);
      bool sitesPath = false;
      for (const auto& named : document.paths().path())
        sitesPath |= named.name() == "/apis/siteplane.io/v1alpha1/namespaces/{namespace}/sites" &&
                     named.value().post().parameters_size() > 0;
      CHECK(sitesPath);
    }
  }
  // The legacy path has no JSON.
  CHECK(h.call("GET", "/swagger-2.0.0.pb-v1", "", Headers{{"Accept", "application/json"}})
            .response.status == 406);
  CHECK(h.call("GET", "/openapi/v2", "", Headers{{"Accept", "text/html"}}).response.status == 406);
}

TEST_CASE("OpenAPI v2 answers 304 to a client that has the current document",
          "[apiserver][openapi]") {
  Harness h;
  for (const char* accept : {"application/json", kProtobuf}) {
    INFO(accept);
    auto first = h.call("GET", "/openapi/v2", "", Headers{{"Accept", accept}});
    REQUIRE(first.response.status == 200);
    std::string etag = header(first.response, "ETag");
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');
    auto again =
        h.call("GET", "/openapi/v2", "", Headers{{"Accept", accept}, {"If-None-Match", etag}});
    CHECK(again.response.status == 304);
    CHECK(again.response.body.empty());
    auto stale = h.call("GET", "/openapi/v2", "",
                        Headers{{"Accept", accept}, {"If-None-Match", "\"0123\""}});
    CHECK(stale.response.status == 200);
    CHECK(stale.response.body == first.response.body);
  }
  // JSON and protobuf are different representations, with different tags.
  CHECK(header(h.call("GET", "/openapi/v2").response, "ETag") !=
        header(h.call("GET", "/openapi/v2", "", Headers{{"Accept", kProtobuf}}).response, "ETag"));
}
