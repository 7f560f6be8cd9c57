#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/object_key.h"

namespace siteplane::kube {

// An object's status, null when it has none.
inline nlohmann::json statusOf(const nlohmann::json& object) {
  auto status = object.is_object() ? object.find("status") : object.end();
  return object.is_object() && status != object.end() ? *status : nlohmann::json();
}

// The status each mirrored object has in the cluster, as the source last saw it or the writer
// last wrote it: the writer publishes a local status only when it differs from this, so what the
// source mirrors in is never written back. Thread-safe.
class ClusterStatuses {
 public:
  void set(const ObjectKey& key, nlohmann::json status) {
    std::lock_guard lock(mutex_);
    statuses_[key] = std::move(status);
  }
  void erase(const ObjectKey& key) {
    std::lock_guard lock(mutex_);
    statuses_.erase(key);
  }
  // nullopt: the object is not (or no longer) in the cluster as far as this replica knows.
  std::optional<nlohmann::json> get(const ObjectKey& key) const {
    std::lock_guard lock(mutex_);
    auto found = statuses_.find(key);
    if (found == statuses_.end()) return std::nullopt;
    return found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<ObjectKey, nlohmann::json> statuses_;
};

}  // namespace siteplane::kube
