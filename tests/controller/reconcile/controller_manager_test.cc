#include "controller/reconcile/controller_manager.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>

#include "tests/support/test_support.h"

namespace siteplane::reconcile {
namespace {

using siteplane::testing::TempDir;
using siteplane::testing::waitUntil;

// Owns "Site/..." keys: queues a Site's own key for every change, records what it reconciles and
// fails the first attempt of keys named "flaky".
class RecordingReconciler final : public Reconciler {
 public:
  std::string_view kind() const override { return "Site"; }
  ReconcileResult reconcile(const std::string& key) noexcept override {
    std::lock_guard lock(mutex_);
    reconciled_.push_back(key);
    if (key == "Site/default/flaky" && std::count(reconciled_.begin(), reconciled_.end(), key) == 1)
      return ReconcileResult::retry("first attempt fails");
    return ReconcileResult::done();
  }
  void keysFor(const store::WatchEvent& event, std::vector<QueuedKey>& keys) noexcept override {
    if (event.key.kind == "Site") keys.push_back({event.key.toString(), {}});
  }
  size_t count(const std::string& key) {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count(reconciled_.begin(), reconciled_.end(), key));
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> reconciled_;
};

// Owns "Site/..." keys and takes the time its key asks for on a FakeClock: "slow" 30 ms and
// done, "later" requeues after an hour, "bad" fails. Asks for "Site/siteplane/initial" at start.
class TimedReconciler final : public Reconciler {
 public:
  explicit TimedReconciler(FakeClock& clock) : clock_(clock) {}
  std::string_view kind() const override { return "Site"; }
  ReconcileResult reconcile(const std::string& key) noexcept override {
    if (key == "Site/default/slow") clock_.advance(std::chrono::milliseconds(30));
    if (key == "Site/default/later") return ReconcileResult::requeueAfter(std::chrono::hours(1));
    if (key == "Site/default/bad") return ReconcileResult::retry("it failed");
    return ReconcileResult::done();
  }
  void keysFor(const store::WatchEvent&, std::vector<QueuedKey>&) noexcept override {}
  void initialKeys(std::vector<QueuedKey>& keys) noexcept override {
    keys.push_back({"Site/siteplane/initial", {}});
  }

 private:
  FakeClock& clock_;
};

nlohmann::json site(const std::string& name) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Site"},
          {"metadata", {{"name", name}}},
          {"spec", {{"root", "/srv"}}}};
}

}  // namespace

TEST_CASE(
    "ControllerManager queues stored objects at start, follows the watch and retries failures",
    "[controller][reconcile]") {
  TempDir state;
  auto store = store::Store::create(state.path());
  REQUIRE(store);
  REQUIRE((*store)->createObject(site("existing")));

  ControllerManager manager(**store);
  auto owned = std::make_unique<RecordingReconciler>();
  RecordingReconciler& reconciler = *owned;
  REQUIRE(manager.add(std::move(owned)));
  CHECK_FALSE(manager.add(std::make_unique<RecordingReconciler>()));  // one reconciler per kind
  manager.start(2);

  CHECK(waitUntil([&] { return reconciler.count("Site/default/existing") == 1; }));
  REQUIRE((*store)->createObject(site("later")));
  CHECK(waitUntil([&] { return reconciler.count("Site/default/later") == 1; }));
  REQUIRE((*store)->createObject(site("flaky")));
  CHECK(waitUntil([&] { return reconciler.count("Site/default/flaky") == 2; }));

  // A key no reconciler owns is dropped, not retried forever.
  manager.enqueue({"Nobody/default/x", {}});
  manager.stop();
  manager.stop();  // idempotent
  CHECK(reconciler.count("Site/default/flaky") == 2);
}

TEST_CASE("ControllerManager measures every reconcile's duration and result by kind on its clock",
          "[controller][reconcile][metrics]") {
  TempDir state;
  auto store = store::Store::create(state.path());
  REQUIRE(store);
  FakeClock clock;
  ControllerManager manager(**store, clock);
  REQUIRE(manager.add(std::make_unique<TimedReconciler>(clock)));
  auto figures = [&] { return manager.metrics().snapshot()["Site"]; };
  CHECK(manager.metrics().snapshot().count("Site") ==
        1);  // known, with zeros, before any reconcile
  CHECK(figures().duration.count == 0);

  // The empty store queues nothing, but the reconciler's initial key runs at start.
  manager.start(1);
  REQUIRE(waitUntil([&] { return figures().succeeded == 1; }));
  manager.enqueue({"Site/default/slow", {}});
  REQUIRE(waitUntil([&] { return figures().succeeded == 2; }));
  manager.enqueue({"Site/default/later", {}});
  REQUIRE(waitUntil([&] { return figures().requeued == 1; }));
  manager.enqueue({"Site/default/bad", {}});
  REQUIRE(waitUntil([&] { return figures().failed == 1; }));
  manager.stop();  // the fake clock never reaches the retry's backoff

  auto done = figures();
  CHECK(done.succeeded == 2);
  CHECK(done.requeued == 1);
  CHECK(done.failed == 1);
  CHECK(done.duration.count == 4);
  CHECK(done.duration.sum == Approx(0.030));
  const auto& bounds = done.duration.upperBounds;
  auto at = [&](double bound) {
    auto it = std::find(bounds.begin(), bounds.end(), bound);
    REQUIRE(it != bounds.end());
    return done.duration.cumulativeCounts[static_cast<size_t>(it - bounds.begin())];
  };
  CHECK(at(0.0005) == 3);  // the instant ones
  CHECK(at(0.025) == 3);
  CHECK(at(0.05) == 4);  // the 30 ms one
}

TEST_CASE("ReconcileMetrics records only the kinds it was given",
          "[controller][reconcile][metrics]") {
  ReconcileMetrics metrics;
  metrics.addKind("Certificate");
  metrics.record("Certificate", std::chrono::milliseconds(2), ReconcileResult::Action::kRetry);
  metrics.addKind("Certificate");  // again: keeps what was recorded
  metrics.record("Issuer", std::chrono::milliseconds(2), ReconcileResult::Action::kDone);
  auto snapshot = metrics.snapshot();
  REQUIRE(snapshot.size() == 1);
  CHECK(snapshot["Certificate"].failed == 1);
  CHECK(snapshot["Certificate"].duration.count == 1);
  CHECK(snapshot["Certificate"].duration.sum == Approx(0.002));
}

}  // namespace siteplane::reconcile
