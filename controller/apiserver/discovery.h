#pragma once

// Discovery documents, built from the registry: the legacy `/api` and `/apis` forms
// (APIVersions, APIGroupList, APIGroup, APIResourceList) and the aggregated discovery
// (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList) that current kubectl asks for first.

#include <nlohmann/json.hpp>
#include <string>

#include "controller/apiserver/resource_registry.h"

namespace siteplane::apiserver {

// GET /api: the core group's versions.
nlohmann::json apiVersions(const ResourceRegistry& registry);
// GET /apis: every named group.
nlohmann::json apiGroupList(const ResourceRegistry& registry);
// GET /apis/{group}; null when the group is not served.
nlohmann::json apiGroup(const ResourceRegistry& registry, const std::string& group);
// GET /apis/{group}/{version} or /api/v1; null when not served.
nlohmann::json apiResourceList(const ResourceRegistry& registry, const std::string& group,
                               const std::string& version);
// Aggregated discovery for /api (core = true) or /apis. `discoveryVersion` is the
// apidiscovery.k8s.io version the client accepted ("v2" or "v2beta1").
nlohmann::json aggregatedDiscovery(const ResourceRegistry& registry, bool core,
                                   const std::string& discoveryVersion);

}  // namespace siteplane::apiserver
