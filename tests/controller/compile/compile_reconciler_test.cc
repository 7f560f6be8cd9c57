#include "controller/compile/compile_reconciler.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <set>

#include "controller/reconcile/controller_manager.h"
#include "tests/controller/compile/compile_fixture.h"
#include "tests/support/test_support.h"

namespace siteplane::compile::testing {
namespace {

using nlohmann::json;

json siteJson(const std::string& name) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Site"},
          {"metadata", {{"name", name}}},
          {"spec", {{"root", "/srv/" + name}}}};
}

json httpBindingJson(const std::string& name, int port) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Binding"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"siteRef", {{"name", "web"}}},
            {"protocol", "http"},
            {"address", "127.0.0.1"},
            {"port", port}}}};
}

// A data plane that applies every table at once and reports the ports in `busy` as unbindable.
struct FakeDataPlane {
  std::set<uint16_t> busy;
  std::shared_ptr<const table::BindingTable> current;
  int publishes = 0;

  PublishFunction publisher() {
    return [this](std::shared_ptr<const table::BindingTable> table,
                  std::function<void(const table::PublishReport&)> onApplied) {
      ++publishes;
      current = table;
      table::PublishReport report;
      report.generation = table->generation();
      for (const auto& listener : table->listeners()) {
        table::ListenerReport entry;
        entry.key = listener->key();
        entry.listening = !busy.count(entry.key.port);
        if (entry.listening)
          entry.boundAddresses = {entry.key.address + ":" + std::to_string(entry.key.port)};
        else
          entry.error =
              entry.key.address + ":" + std::to_string(entry.key.port) + ": address already in use";
        report.listeners.push_back(entry);
      }
      onApplied(report);
    };
  }
};

struct ReconcilerFixture {
  CertificateFixture certificates;
  std::unique_ptr<store::Store> store = [this] {
    auto opened = store::Store::create(certificates.dir.path() / "state");
    if (!opened) throw std::runtime_error(opened.message());
    return std::move(opened).value();
  }();
  FakeDataPlane dataPlane;
  CompileReconciler reconciler{*store, *certificates.store, dataPlane.publisher(), {}};

  json get(const std::string& kind, const std::string& name) {
    auto found = store->get({kind, "default", name});
    return found ? **found : json();
  }
  json conditionOf(const json& object, const std::string& type) {
    for (const auto& condition : object["status"]["conditions"])
      if (condition["type"] == type) return condition;
    return json();
  }
};

}  // namespace

TEST_CASE("CompileReconciler writes Programmed status from the data plane's report",
          "[controller][compile]") {
  ReconcilerFixture fixture;
  REQUIRE(fixture.store->createObject(siteJson("web")));
  REQUIRE(fixture.store->createObject(httpBindingJson("served", 8080)));
  REQUIRE(fixture.store->createObject(httpBindingJson("blocked", 8081)));
  fixture.dataPlane.busy = {8081};

  auto result = fixture.reconciler.reconcile(CompileReconciler::kKey);
  // A port that could not bind is retried later without an edit.
  CHECK(result.action == reconcile::ReconcileResult::Action::kRequeueAfter);

  json served = fixture.get("Binding", "served");
  CHECK(fixture.conditionOf(served, "Programmed")["status"] == "True");
  CHECK(fixture.conditionOf(served, "Programmed")["observedGeneration"] == 1);
  CHECK(served["status"]["listenAddress"] == "127.0.0.1:8080");
  CHECK(served["status"]["tableGeneration"] == 1);
  json blocked = fixture.get("Binding", "blocked");
  CHECK(fixture.conditionOf(blocked, "Programmed")["reason"] == "PortUnavailable");
  CHECK(fixture.conditionOf(blocked, "Programmed")["message"] ==
        "127.0.0.1:8081: address already in use");
  CHECK_FALSE(blocked["status"].contains("listenAddress"));
  json site = fixture.get("Site", "web");
  CHECK(site["status"]["siteId"] == 1);

  SECTION("a pass that changes nothing writes nothing") {
    uint64_t version = fixture.store->resourceVersion();
    fixture.dataPlane.busy.clear();
    fixture.reconciler.reconcile(CompileReconciler::kKey);
    // Only the binding whose port is now free changes.
    CHECK(fixture.store->resourceVersion() == version + 1);
    CHECK(fixture.get("Binding", "blocked")["status"]["tableGeneration"] == 2);
    CHECK(fixture.get("Binding", "served")["status"]["tableGeneration"] == 1);
    uint64_t settled = fixture.store->resourceVersion();
    CHECK(fixture.reconciler.reconcile(CompileReconciler::kKey).action ==
          reconcile::ReconcileResult::Action::kDone);
    CHECK(fixture.store->resourceVersion() == settled);
    CHECK(fixture.dataPlane.publishes == 3);
  }

  SECTION("table generations continue after a restart") {
    FakeDataPlane restartedPlane;
    CompileReconciler restarted(*fixture.store, *fixture.certificates.store,
                                restartedPlane.publisher(), {});
    (void)restarted.reconcile(CompileReconciler::kKey);
    REQUIRE(restartedPlane.current);
    CHECK(restartedPlane.current->generation() == 2);
  }
}

TEST_CASE("CompileReconciler ignores status-only changes of Sites and Bindings",
          "[controller][compile]") {
  ReconcilerFixture fixture;
  auto created = fixture.store->createObject(siteJson("web"));
  REQUIRE(created);
  std::vector<reconcile::QueuedKey> keys;
  store::WatchEvent event{store::WatchEvent::Type::kAdded, {"Site", "default", "web"}, *created, 1};
  fixture.reconciler.keysFor(event, keys);
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].key == CompileReconciler::kKey);

  // Same generation (a status write): nothing to compile.
  event.type = store::WatchEvent::Type::kModified;
  keys.clear();
  fixture.reconciler.keysFor(event, keys);
  CHECK(keys.empty());

  // A spec change bumps the generation; a deletion always counts; Certificates always count.
  json changed = **created;
  changed["metadata"]["generation"] = 2;
  event.object = std::make_shared<const json>(changed);
  fixture.reconciler.keysFor(event, keys);
  CHECK(keys.size() == 1);
  event.type = store::WatchEvent::Type::kDeleted;
  fixture.reconciler.keysFor(event, keys);
  CHECK(keys.size() == 2);
  event.key.kind = "Certificate";
  event.type = store::WatchEvent::Type::kModified;
  fixture.reconciler.keysFor(event, keys);
  CHECK(keys.size() == 3);
  event.key.kind = "Event";
  fixture.reconciler.keysFor(event, keys);
  CHECK(keys.size() == 3);
}

TEST_CASE("CompileReconciler publishes an empty table at start when nothing is declared",
          "[controller][compile]") {
  ReconcilerFixture fixture;
  std::vector<reconcile::QueuedKey> keys;
  fixture.reconciler.initialKeys(keys);
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].key == CompileReconciler::kKey);

  // Through the manager, with an empty store: no object queues the pass, its initial key does.
  std::atomic<uint64_t> published{0};
  PublishFunction publish = [&published](
                                std::shared_ptr<const table::BindingTable> table,
                                std::function<void(const table::PublishReport&)> onApplied) {
    table::PublishReport report;
    report.generation = table->generation();
    onApplied(report);
    if (table->bindingCount() == 0) published = table->generation();
  };
  reconcile::ControllerManager manager(*fixture.store);
  REQUIRE(manager.add(std::make_unique<CompileReconciler>(
      *fixture.store, *fixture.certificates.store, publish, CompileOptions{})));
  manager.start(1);
  CHECK(siteplane::testing::waitUntil([&] { return published.load() == 1; }));
  manager.stop();
}

}  // namespace siteplane::compile::testing
