#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/object_key.h"

namespace siteplane::store {

// Stored objects are immutable once stored: readers share them without copying, and a caller that
// wants to change one copies it (`nlohmann::json copy = *object;`) and writes the copy back.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// One change to the store, as a Kubernetes watch reports it.
struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted };

  Type type = Type::kAdded;
  ObjectKey key;
  // The object after the change. For kDeleted, the last stored state with
  // metadata.resourceVersion set to the deletion's resourceVersion (as Kubernetes does), so that a
  // watch resumed from it continues after the deletion.
  ObjectPtr object;
  uint64_t resourceVersion = 0;
};

// "ADDED", "MODIFIED", "DELETED": the Kubernetes watch event types.
const char* toString(WatchEvent::Type type);

// Receives events in resourceVersion order. See Store's threading contract.
using WatchCallback = std::function<void(const WatchEvent&)>;

}  // namespace siteplane::store
