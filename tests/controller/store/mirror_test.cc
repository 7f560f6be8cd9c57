// WriteOp::mirror: an object as another server (the Kubernetes API) stores it, kept whole.

#include <catch2/catch.hpp>

#include "controller/store/store.h"
#include "tests/controller/store/store_fixture.h"

namespace siteplane::store {
namespace {

using namespace siteplane::store::testing;

json clusterSite(const std::string& name, int64_t generation, json status) {
  json object = site(name);
  object["metadata"]["namespace"] = "default";
  object["metadata"]["uid"] = "5f0c3c1e-1111-4222-8333-444455556666";
  object["metadata"]["generation"] = generation;
  object["metadata"]["creationTimestamp"] = "2024-01-02T03:04:05Z";
  if (!status.is_null()) object["status"] = std::move(status);
  return object;
}

TEST_CASE("A mirrored object keeps the uid, generation, creationTimestamp and status it came with",
          "[controller][store]") {
  StoreFixture f;
  json status = {{"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  auto written = f.store->writeBatch({WriteOp::mirror(clusterSite("www", 7, status))});
  REQUIRE(written.at(0).isOk());
  const json& stored = **written[0];
  CHECK(stored["metadata"]["uid"] == "5f0c3c1e-1111-4222-8333-444455556666");
  CHECK(stored["metadata"]["generation"] == 7);
  CHECK(stored["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z");
  CHECK(stored["status"] == status);
  CHECK(versionOf(stored) == "1");  // this store's own version

  SECTION("the same object again is no write") {
    auto again = f.store->writeBatch({WriteOp::mirror(clusterSite("www", 7, status))});
    REQUIRE(again.at(0).isOk());
    CHECK(versionOf(**again[0]) == "1");
    CHECK(f.store->resourceVersion() == 1);
  }
  SECTION("a new generation replaces spec and status whole, generation as given") {
    json next = clusterSite("www", 9, nullptr);
    next["spec"]["root"] = "/srv/other";
    auto replaced = f.store->writeBatch({WriteOp::mirror(next)});
    REQUIRE(replaced.at(0).isOk());
    CHECK((**replaced[0])["metadata"]["generation"] == 9);
    CHECK((**replaced[0])["spec"]["root"] == "/srv/other");
    CHECK_FALSE((**replaced[0]).contains("status"));
    CHECK(versionOf(**replaced[0]) == "2");
  }
}

}  // namespace
}  // namespace siteplane::store
