#pragma once

// Objects and a store opened on a temporary state directory, shared by the store's test files.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/store/store.h"
#include "tests/support/test_support.h"

namespace siteplane::store::testing {

using nlohmann::json;

// 2025-11-25T06:40:00Z: what the injected clock reports.
inline std::chrono::system_clock::time_point fixedTime() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1764052800));
}

inline json site(const std::string& name, json spec = {{"root", "/srv/www"}},
                 json labels = nullptr) {
  json object = {{"apiVersion", "siteplane.io/v1alpha1"},
                 {"kind", "Site"},
                 {"metadata", {{"name", name}}},
                 {"spec", std::move(spec)}};
  if (!labels.is_null()) object["metadata"]["labels"] = std::move(labels);
  return object;
}

inline ObjectKey siteKey(const std::string& name) { return ObjectKey{"Site", "default", name}; }

inline std::string versionOf(const json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}
inline uint64_t versionNumber(const json& object) { return *toResourceVersion(versionOf(object)); }

struct StoreFixture {
  // Stands still at fixedTime(): creationTimestamp is known.
  FakeClock clock{FakeClock::TimePoint(std::chrono::hours(1)), fixedTime()};
  siteplane::testing::TempDir state;
  std::unique_ptr<Store> store = open();

  std::unique_ptr<Store> open(StoreOptions options = {}) {
    auto opened = Store::create(state.path(), clock, options);
    if (!opened) throw std::runtime_error(opened.message());
    return std::move(opened).value();
  }
  // Closes and reopens the store on the same state directory, as a restart does.
  void reopen(StoreOptions options = {}) {
    store.reset();
    store = open(options);
  }
};

}  // namespace siteplane::store::testing
