#include "controller/apiserver/discovery.h"

namespace siteplane::apiserver {
namespace {

// What every served type supports; deletecollection is not offered, so kubectl deletes one
// object at a time.
nlohmann::json resourceVerbs() {
  return {"create", "delete", "get", "list", "patch", "update", "watch"};
}
nlohmann::json subresourceVerbs() { return {"get", "patch", "update"}; }

nlohmann::json groupVersion(const std::string& group, const std::string& version) {
  return {{"groupVersion", group + "/" + version}, {"version", version}};
}

}  // namespace

nlohmann::json apiVersions(const ResourceRegistry& registry) {
  nlohmann::json versions = registry.versions("");
  if (versions.empty()) versions = nlohmann::json::array();
  return {{"kind", "APIVersions"},
          {"versions", versions},
          {"serverAddressByClientCIDRs", nlohmann::json::array()}};
}

nlohmann::json apiGroup(const ResourceRegistry& registry, const std::string& group) {
  auto versions = registry.versions(group);
  if (group.empty() || versions.empty()) return nullptr;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& version : versions) list.push_back(groupVersion(group, version));
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", group},
          {"versions", list},
          {"preferredVersion", groupVersion(group, versions.front())}};
}

nlohmann::json apiGroupList(const ResourceRegistry& registry) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : registry.groups()) {
    nlohmann::json entry = apiGroup(registry, group);
    entry.erase("kind");
    entry.erase("apiVersion");
    groups.push_back(std::move(entry));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

nlohmann::json apiResourceList(const ResourceRegistry& registry, const std::string& group,
                               const std::string& version) {
  nlohmann::json resources = nlohmann::json::array();
  for (const auto& type : registry.types()) {
    if (type.group != group || type.version != version) continue;
    nlohmann::json resource = {{"name", type.plural},
                               {"singularName", type.singular},
                               {"namespaced", type.namespaced},
                               {"kind", type.kind},
                               {"verbs", resourceVerbs()}};
    if (!type.shortNames.empty()) resource["shortNames"] = type.shortNames;
    if (!type.categories.empty()) resource["categories"] = type.categories;
    resources.push_back(std::move(resource));
    if (type.statusSubresource) {
      resources.push_back({{"name", type.plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", type.namespaced},
                           {"kind", type.kind},
                           {"verbs", subresourceVerbs()}});
    }
  }
  if (resources.empty()) return nullptr;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

nlohmann::json aggregatedDiscovery(const ResourceRegistry& registry, bool core,
                                   const std::string& discoveryVersion) {
  nlohmann::json items = nlohmann::json::array();
  std::vector<std::string> groups = core ? std::vector<std::string>{""} : registry.groups();
  for (const auto& group : groups) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& version : registry.versions(group)) {
      nlohmann::json resources = nlohmann::json::array();
      for (const auto& type : registry.types()) {
        if (type.group != group || type.version != version) continue;
        nlohmann::json kind = {{"group", group}, {"version", version}, {"kind", type.kind}};
        nlohmann::json resource = {{"resource", type.plural},
                                   {"responseKind", kind},
                                   {"scope", type.namespaced ? "Namespaced" : "Cluster"},
                                   {"singularResource", type.singular},
                                   {"verbs", resourceVerbs()}};
        if (!type.shortNames.empty()) resource["shortNames"] = type.shortNames;
        if (!type.categories.empty()) resource["categories"] = type.categories;
        if (type.statusSubresource) {
          resource["subresources"] = nlohmann::json::array(
              {{{"subresource", "status"}, {"responseKind", kind}, {"verbs", subresourceVerbs()}}});
        }
        resources.push_back(std::move(resource));
      }
      versions.push_back(
          {{"version", version}, {"resources", resources}, {"freshness", "Current"}});
    }
    if (versions.empty()) continue;
    items.push_back(
        {{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}}, {"versions", versions}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/" + discoveryVersion},
          {"metadata", nlohmann::json::object()},
          {"items", items}};
}

}  // namespace siteplane::apiserver
