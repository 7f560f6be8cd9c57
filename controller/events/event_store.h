#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/status.h"
#include "controller/store/store.h"

namespace siteplane::events {

// The part of the object store an EventRecorder uses. StoreEventStore is the real one; tests wrap
// it to count what recording one Event costs.
class EventStore {
 public:
  virtual ~EventStore() = default;
  virtual Result<store::ObjectPtr> get(const ObjectKey& key) = 0;
  virtual Result<store::ObjectPtr> create(nlohmann::json event) = 0;
  virtual Result<store::ObjectPtr> update(nlohmann::json event) = 0;
  virtual Result<store::ObjectPtr> remove(const ObjectKey& key) = 0;
  // Every Event of one namespace.
  virtual store::ObjectList list(const std::string& ns) = 0;
};

class StoreEventStore final : public EventStore {
 public:
  // `store` must outlive this.
  explicit StoreEventStore(store::Store& store) : store_(store) {}

  Result<store::ObjectPtr> get(const ObjectKey& key) override { return store_.get(key); }
  Result<store::ObjectPtr> create(nlohmann::json event) override {
    return store_.createObject(std::move(event));
  }
  Result<store::ObjectPtr> update(nlohmann::json event) override {
    return store_.updateObject(std::move(event));
  }
  Result<store::ObjectPtr> remove(const ObjectKey& key) override {
    return store_.removeObject(key);
  }
  store::ObjectList list(const std::string& ns) override { return store_.list({"Event", ns, {}}); }

 private:
  store::Store& store_;
};

}  // namespace siteplane::events
