#include <catch2/catch.hpp>
#include <functional>

#include "common/object_key.h"
#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane;
using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;
using json = nlohmann::json;

namespace {

// A clock that runs `interfere` before it answers, as long as `interferences` lasts. The handler
// reads the wall time while it computes a write from the object it read (the managedFields
// times), so each interference lands between that read and the commit, where another client's
// write would.
class InterferingClock final : public Clock {
 public:
  TimePoint now() const override { return fake_.now(); }
  WallTime wallNow() const override {
    if (interferences > 0) {
      --interferences;
      ++interfered;
      interfere();
    }
    return fake_.wallNow();
  }
  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    fake_.waitUntil(lock, cv, deadline);
  }
  uint64_t addWakeListener(std::function<void()> wake) override {
    return fake_.addWakeListener(std::move(wake));
  }
  void removeWakeListener(uint64_t id) override { fake_.removeWakeListener(id); }

  std::function<void()> interfere;
  mutable int interferences = 0;  // how many more times to interfere
  mutable int interfered = 0;     // how many times it did

 private:
  FakeClock fake_{FakeClock::TimePoint(std::chrono::hours(1)), fixedNow()};
};

// A handler over the harness's store whose clock is `clock`; the store keeps its own clock, so
// that an interference never runs inside a store write.
struct RacingHarness {
  RacingHarness() {
    auto registry = builtinResourceRegistry();
    if (!registry) throw std::runtime_error(registry.message());
    ApiHandlerOptions options;
    options.clock = &clock;
    handler = std::make_unique<ApiHandler>(*h.store, std::move(registry).value(), options);
    // Another client relabels the Site "web" with the number of its write.
    clock.interfere = [this] {
      auto current = h.store->get(ObjectKey{"Site", "default", "web"});
      if (!current) return;
      json object = **current;
      object["metadata"]["labels"]["other"] = std::to_string(clock.interfered);
      object["metadata"].erase("resourceVersion");
      CHECK(h.store->updateObject(std::move(object)));
    };
  }

  ApiReply call(const std::string& method, const std::string& target, const std::string& body,
                Headers headers = {{"Content-Type", "application/json"}}) {
    return handler->handle(ApiRequest::make(method, target, body, std::move(headers)));
  }
  json stored() { return h.json(call("GET", kSites + "/web", "", {})); }

  Harness h;
  InterferingClock clock;
  std::unique_ptr<ApiHandler> handler;
};

// A server-side apply configuration of the Site "web", sent with kApply.
std::string siteConfiguration(const std::string& root) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: web\nspec:\n  root: " +
         root + "\n";
}
const Headers kApply = {{"Content-Type", "application/apply-patch+yaml"}};

}  // namespace

TEST_CASE("Update, patch and apply start over on the new state when another write lands first",
          "[apiserver][concurrency]") {
  RacingHarness r;
  REQUIRE(r.call("POST", kSites, site("web").dump()).response.status == 201);
  r.clock.interferences = 2;

  SECTION("update") {
    auto updated = r.call("PUT", kSites + "/web", site("web", "/srv/new").dump());
    REQUIRE(updated.response.status == 200);
    CHECK(r.clock.interfered == 2);
    CHECK(r.stored()["spec"]["root"] == "/srv/new");
  }
  SECTION("merge patch") {
    json patch = {{"metadata", {{"labels", {{"mine", "yes"}}}}}};
    Headers merge = {{"Content-Type", "application/merge-patch+json"}};
    auto patched = r.call("PATCH", kSites + "/web", patch.dump(), merge);
    REQUIRE(patched.response.status == 200);
    CHECK(r.clock.interfered == 2);
    json labels = r.stored()["metadata"]["labels"];
    CHECK(labels["mine"] == "yes");
    CHECK(labels["other"] == "2");  // the patch went onto the second write's state
  }
  SECTION("server-side apply") {
    // force: spec.root belongs to the manager that created the Site.
    auto applied = r.call("PATCH", kSites + "/web?fieldManager=ops&force=true",
                          siteConfiguration("/srv/applied"), kApply);
    REQUIRE(applied.response.status == 200);
    CHECK(r.clock.interfered == 2);
    json stored = r.stored();
    CHECK(stored["spec"]["root"] == "/srv/applied");
    CHECK(stored["metadata"]["labels"]["other"] == "2");
  }
}

TEST_CASE("Server-side apply that finds no object applies again when another client creates it",
          "[apiserver][concurrency]") {
  RacingHarness r;
  r.clock.interfere = [&r] {
    CHECK(r.h.store->createObject({{"apiVersion", "siteplane.io/v1alpha1"},
                                   {"kind", "Site"},
                                   {"metadata", {{"name", "web"}, {"namespace", "default"}}},
                                   {"spec", {{"root", "/srv/theirs"}}}}));
  };
  r.clock.interferences = 1;
  auto applied =
      r.call("PATCH", kSites + "/web?fieldManager=ops", siteConfiguration("/srv/mine"), kApply);
  // The create lost the race; applied again, it updates the object the other client created.
  REQUIRE(applied.response.status == 200);
  CHECK(r.clock.interfered == 1);
  CHECK(r.stored()["spec"]["root"] == "/srv/mine");
}

TEST_CASE("A write that keeps losing the race gives up with 409 after five attempts",
          "[apiserver][concurrency]") {
  RacingHarness r;
  REQUIRE(r.call("POST", kSites, site("web").dump()).response.status == 201);
  r.clock.interferences = 100;
  auto updated = r.call("PUT", kSites + "/web", site("web", "/srv/new").dump());
  REQUIRE(updated.response.status == 409);
  CHECK(r.h.json(updated)["reason"] == "Conflict");
  CHECK(r.clock.interfered == 5);
  CHECK(r.stored()["spec"]["root"] == "/srv/www");
}

TEST_CASE("A write with the client's own resourceVersion is answered 409, not retried",
          "[apiserver][concurrency]") {
  RacingHarness r;
  REQUIRE(r.call("POST", kSites, site("web").dump()).response.status == 201);
  json current = r.stored();
  current["spec"]["root"] = "/srv/new";
  r.clock.interferences = 100;
  auto updated = r.call("PUT", kSites + "/web", current.dump());
  REQUIRE(updated.response.status == 409);
  CHECK(r.h.json(updated)["reason"] == "Conflict");
  CHECK(r.clock.interfered == 1);
}
