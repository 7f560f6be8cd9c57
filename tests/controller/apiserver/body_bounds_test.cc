// Hostile API bodies: nesting deep enough to exhaust a thread's stack, and JSON patches whose
// copy operations multiply the object's size. Each gets a 4xx answer; nothing is stored.

#include <catch2/catch.hpp>
#include <string>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;

namespace {

std::string nestedArrays(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

// A Site whose spec holds `depth` nested objects under an unknown field.
std::string deepSite(const std::string& name, int depth) {
  std::string open, close;
  for (int i = 0; i < depth; ++i) {
    open += "{\"a\":";
    close += "}";
  }
  return R"({"apiVersion":"siteplane.io/v1alpha1","kind":"Site","metadata":{"name":")" + name +
         R"("},"spec":{"root":"/srv","x":)" + open + "1" + close + "}}";
}

// Each copy doubles spec: 40 of them would make it 2^40 times its size.
std::string copyBomb() {
  std::string ops = R"([{"op":"add","path":"/spec/x","value":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})";
  for (int i = 0; i < 40; ++i)
    ops += R"(,{"op":"copy","from":"/spec","path":"/spec/y)" + std::to_string(i) + "\"}";
  return ops + "]";
}

}  // namespace

TEST_CASE("JSON nested beyond 10000 levels is refused with 400 before it is built",
          "[apiserver][bounds]") {
  Harness h;
  auto body = nestedArrays(50000);
  auto created = h.call("POST", kSites, body);
  REQUIRE(created.response.status == 400);
  CHECK_THAT(h.json(created)["message"].get<std::string>(),
             Catch::Contains("nested deeper than 10000 levels"));

  auto deep = h.call("POST", kSites, deepSite("deep", 60000));
  REQUIRE(deep.response.status == 400);
  CHECK(h.call("GET", kSites + "/deep").response.status == 404);

  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto merge = h.call("PATCH", kSites + "/web", deepSite("web", 60000),
                      {{"Content-Type", "application/merge-patch+json"}});
  CHECK(merge.response.status == 400);
  auto jsonPatch = h.call("PATCH", kSites + "/web",
                          R"([{"op":"add","path":"/spec/x","value":)" + nestedArrays(60000) + "}]",
                          {{"Content-Type", "application/json-patch+json"}});
  CHECK(jsonPatch.response.status == 400);
  auto apply = h.call("PATCH", kSites + "/web?fieldManager=me", deepSite("web", 60000),
                      {{"Content-Type", "application/apply-patch+yaml"}});
  CHECK(apply.response.status == 400);
  auto yaml = h.call("POST", kSites, nestedArrays(60000), {{"Content-Type", "application/yaml"}});
  CHECK(yaml.response.status == 400);
  auto deleteOptions = h.call("DELETE", kSites + "/web", nestedArrays(60000));
  CHECK(deleteOptions.response.status == 400);
  CHECK(h.call("GET", kSites + "/web").response.status == 200);
}

TEST_CASE("Nesting within the limit is decoded and answered without a crash",
          "[apiserver][bounds]") {
  Harness h;
  auto created = h.call("POST", kSites, deepSite("deep", 9990));
  // Whatever the decoder thinks of the unknown field, the answer is a Status, not a crash.
  CHECK(created.response.status < 500);
}

TEST_CASE("A JSON patch of repeated copies is refused before the object grows past the limit",
          "[apiserver][bounds][patch]") {
  Harness h;
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto bomb = copyBomb();
  REQUIRE(bomb.size() < 2500);
  auto patched =
      h.call("PATCH", kSites + "/web", bomb, {{"Content-Type", "application/json-patch+json"}});
  REQUIRE((patched.response.status == 413 || patched.response.status == 422));
  CHECK_THAT(h.json(patched)["message"].get<std::string>(), Catch::Contains("bytes"));
  auto stored = h.json(h.call("GET", kSites + "/web"));
  CHECK_FALSE(stored["spec"].contains("x"));

  // Copies that stay small still apply.
  auto small = h.call("PATCH", kSites + "/web",
                      R"([{"op":"add","path":"/metadata/labels","value":{"a":"b"}},
                          {"op":"copy","from":"/metadata/labels/a","path":"/metadata/labels/c"}])",
                      {{"Content-Type", "application/json-patch+json"}});
  REQUIRE(small.response.status == 200);
  CHECK(h.json(small)["metadata"]["labels"]["c"] == "b");
}

TEST_CASE("A JSON patch with more than 10000 operations is refused with 413",
          "[apiserver][bounds][patch]") {
  Harness h;
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  std::string ops = "[";
  for (int i = 0; i < 10001; ++i) {
    if (i) ops += ",";
    ops += R"({"op":"test","path":"/spec/root","value":"/srv/www"})";
  }
  ops += "]";
  auto patched =
      h.call("PATCH", kSites + "/web", ops, {{"Content-Type", "application/json-patch+json"}});
  REQUIRE(patched.response.status == 413);
  CHECK_THAT(h.json(patched)["message"].get<std::string>(),
             Catch::Contains("maximum operations in a JSON patch is 10000"));
}

TEST_CASE("Copies that nest the object into itself are bounded in depth as well as size",
          "[apiserver][bounds][patch]") {
  Harness h;
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  // Each add nests 9,000 levels below the deepest point so far: the result would be deeper than
  // any body may be.
  std::string ops = "[";
  std::string value = nestedArrays(9000);
  std::string innermost = "/spec/x";
  for (int i = 0; i < 3; ++i) {
    if (i) ops += ",";
    std::string path = i == 0 ? innermost : innermost + "/-";
    ops += R"({"op":"add","path":")" + path + R"(","value":)" + value + "}";
    if (i > 0) innermost += "/0";
    for (int k = 0; k < 8999; ++k) innermost += "/0";
  }
  ops += "]";
  auto patched =
      h.call("PATCH", kSites + "/web", ops, {{"Content-Type", "application/json-patch+json"}});
  CHECK(patched.response.status >= 400);
  CHECK(patched.response.status < 500);
  CHECK(h.call("GET", kSites + "/web").response.status == 200);
}
