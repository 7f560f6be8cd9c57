#pragma once

// The resource types the API serves, read from the CustomResourceDefinitions in crds/ (their
// names, scope, printer columns and OpenAPI v3 schema), plus the core `v1` Event. Discovery,
// OpenAPI, Table output and routing all read this one registry, so the CRDs stay the single
// source of truth for schemas and columns.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/apiserver/json_path.h"

namespace siteplane::apiserver {

struct PrinterColumn {
  std::string name;         // "Port"
  std::string type;         // string|integer|number|boolean|date
  std::string format;       // optional OpenAPI format
  std::string description;  // optional
  int priority = 0;         // > 0: only with -o wide
  std::string jsonPath;     // ".spec.port"
  JsonPath path;            // jsonPath, parsed
};

struct ResourceType {
  std::string group;     // "siteplane.io"; "" for the core group
  std::string version;   // "v1alpha1"
  std::string kind;      // "Site"
  std::string listKind;  // "SiteList"
  std::string plural;    // "sites"
  std::string singular;  // "site"
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;
  bool namespaced = true;
  bool statusSubresource = false;
  std::vector<PrinterColumn> columns;  // additionalPrinterColumns, in CRD order
  nlohmann::json schema;               // openAPIV3Schema; null when the CRD has none

  // "siteplane.io/v1alpha1", or "v1" for the core group.
  std::string apiVersion() const;
  // "sites.siteplane.io" (Kubernetes' group-qualified resource name), "events" for core.
  std::string groupResource() const;
  // The URL prefix of the group version: "/apis/siteplane.io/v1alpha1" or "/api/v1".
  std::string groupVersionPath() const;
};

class ResourceRegistry {
 public:
  // Builds a registry from CRD objects (already converted from YAML to JSON); fails naming the
  // CRD and field that is missing or malformed (e.g. an unparseable printer-column JSONPath).
  static Result<ResourceRegistry> fromCrds(const std::vector<nlohmann::json>& crds);

  // The core v1 Event type, served so that `kubectl get events` and `describe` work.
  static ResourceType coreEventType();

  void add(ResourceType type);

  const std::vector<ResourceType>& types() const { return types_; }
  const ResourceType* findByPlural(const std::string& group, const std::string& version,
                                   const std::string& plural) const;
  // apiVersion is "group/version" or "v1".
  const ResourceType* findByKind(const std::string& apiVersion, const std::string& kind) const;
  // The served versions of `group`, in registration order ("" = core).
  std::vector<std::string> versions(const std::string& group) const;
  // The API groups other than core, in registration order.
  std::vector<std::string> groups() const;

 private:
  std::vector<ResourceType> types_;
};

}  // namespace siteplane::apiserver
