#include "server/acme_reach.h"

#include "common/ascii.h"
#include "common/json_fields.h"

namespace siteplane::server {
namespace {

// Whether a Binding's hostName and a name to order cover a common host: equal, or one a
// wildcard ("*.example.com") over the other (one label more).
bool hostNamesOverlap(const std::string& hostName, const std::string& orderedName) {
  const std::string a = toLowerAscii(hostName), b = toLowerAscii(orderedName);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  auto under = [](const std::string& wildcard, const std::string& host) {
    if (wildcard.rfind("*.", 0) != 0) return false;
    const std::string suffix = wildcard.substr(1);  // ".example.com"
    return host.size() > suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0 &&
           host.substr(0, host.size() - suffix.size()).find('.') == std::string::npos;
  };
  return under(a, b) || under(b, a);
}

}  // namespace

std::string bindingClaimingElsewhere(const store::Store& store,
                                     const std::vector<std::string>& names, const std::string& ns) {
  if (names.empty()) return "";
  for (const auto& binding : store.list({"Binding", std::nullopt, {}}).items) {
    const std::string bindingNs = metadataString(*binding, "namespace");
    if (bindingNs == ns) continue;
    const auto spec = binding->find("spec");
    if (spec == binding->end()) continue;
    const std::string hostName = stringMember(*spec, "hostName");
    for (const std::string& name : names)
      if (hostNamesOverlap(hostName, name))
        return bindingNs + "/" + metadataString(*binding, "name");
  }
  return "";
}

bool challengeListenerOpen(const loop::DataPlane& plane, const std::string& name, bool https) {
  auto live = plane.liveTable();
  if (!live.table) return false;
  const auto wanted = https ? table::Protocol::kHttps : table::Protocol::kHttp;
  for (const auto& report : live.listeners) {
    const table::Listener* listener = live.table->findListener(report.key);
    if (report.listening && listener && listener->protocol() == wanted &&
        (https || listener->findHost(name)))
      return true;
  }
  return false;
}

}  // namespace siteplane::server
