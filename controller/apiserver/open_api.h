#pragma once

// The OpenAPI v3 documents kubectl downloads for client-side validation, field-validation
// support detection and `kubectl explain`: the index at /openapi/v3 and one document per group
// version, generated from the CRD schemas in the registry plus the standard meta.k8s.io
// definitions (ObjectMeta, ListMeta, Status, ...) those schemas refer to.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/apiserver/resource_registry.h"

namespace siteplane::apiserver {

class OpenApi {
 public:
  // Builds every document once; the registry does not change while the server runs.
  explicit OpenApi(const ResourceRegistry& registry);

  // GET /openapi/v3
  const nlohmann::json& index() const { return index_; }
  // GET /openapi/v3/apis/{group}/{version} (key "apis/siteplane.io/v1alpha1"); null if unknown.
  const nlohmann::json* document(const std::string& key) const;

  // The schema name Kubernetes gives a type: "io.siteplane.v1alpha1.Site".
  static std::string definitionName(const ResourceType& type, const std::string& kind);

 private:
  nlohmann::json index_;
  std::map<std::string, nlohmann::json> documents_;
};

}  // namespace siteplane::apiserver
