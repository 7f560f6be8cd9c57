#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/object_key.h"
#include "controller/api/time.h"

namespace siteplane::api {

inline constexpr const char* kApiVersion = "siteplane.io/v1alpha1";
inline constexpr const char* kGroup = "siteplane.io";
inline constexpr const char* kVersion = "v1alpha1";

// Kubernetes ObjectMeta, the part siteplane uses. name/namespace/labels/annotations come from the
// user; generation, resourceVersion, uid and creationTimestamp are set by the store.
struct ObjectMeta {
  std::string name;
  std::string namespaceName{kDefaultNamespace};  // "namespace" in YAML
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t generation = 0;       // bumped on every spec change
  std::string resourceVersion;  // bumped on every change
  std::string uid;
  std::optional<Time> creationTimestamp;

  bool operator==(const ObjectMeta&) const = default;
};

// A reference to an object of a known kind in the same namespace.
struct LocalObjectReference {
  std::string name;
  bool operator==(const LocalObjectReference&) const = default;
};

}  // namespace siteplane::api
