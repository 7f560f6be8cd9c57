#include <catch2/catch.hpp>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;

// The manifest-file annotation decides which directories a Certificate may import from, so the
// API may not add it to an object it owns, by any verb.
TEST_CASE("An update or patch cannot mark an API object as declared by a manifest file",
          "[apiserver][ownership]") {
  Harness h;
  REQUIRE(h.call("POST", kSites, site("web").dump()).response.status == 201);
  auto merge = h.call("PATCH", kSites + "/web",
                      R"({"metadata":{"annotations":{"siteplane.io/manifest-file":"a.yaml"}}})",
                      {{"Content-Type", "application/merge-patch+json"}});
  CHECK(merge.response.status == 403);
  auto jsonPatch = h.call(
      "PATCH", kSites + "/web",
      R"([{"op":"add","path":"/metadata/annotations","value":{"siteplane.io/manifest-file":"a.yaml"}}])",
      {{"Content-Type", "application/json-patch+json"}});
  CHECK(jsonPatch.response.status == 403);
  auto current = h.json(h.call("GET", kSites + "/web"));
  current["metadata"]["annotations"]["siteplane.io/manifest-file"] = "a.yaml";
  CHECK(h.call("PUT", kSites + "/web", current.dump()).response.status == 403);
  auto stored = h.json(h.call("GET", kSites + "/web"));
  CHECK_FALSE(stored["metadata"].contains("annotations"));
  // Other annotations are the API's to write.
  auto other = h.call("PATCH", kSites + "/web", R"({"metadata":{"annotations":{"team":"web"}}})",
                      {{"Content-Type", "application/merge-patch+json"}});
  CHECK(other.response.status == 200);
}
