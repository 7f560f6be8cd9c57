#include "controller/reconcile/controller_manager.h"

#include <algorithm>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

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

nlohmann::json site(const std::string& name) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Site"},
          {"metadata", {{"name", name}}},
          {"spec", {{"root", "/srv"}}}};
}

}  // namespace

TEST_CASE("ControllerManager queues stored objects at start, follows the watch and retries failures",
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

}  // namespace siteplane::reconcile
