#include "controller/reconcile/certificate_dependencies.h"

namespace siteplane::reconcile {
namespace {

// The string at `pointer` in `object`, or "" when it is absent or not a string. The watch hands
// out stored (validated) objects, but this index must not trust them to be well-formed.
std::string stringAt(const nlohmann::json& object, const nlohmann::json::json_pointer& pointer) {
  if (!object.contains(pointer)) return {};
  const nlohmann::json& value = object.at(pointer);
  return value.is_string() ? value.get<std::string>() : std::string();
}

}  // namespace

void CertificateDependencies::link(Forward& forward, Reverse& reverse, const std::string& ns,
                                   const std::string& name, const std::string& target) {
  unlink(forward, reverse, ns, name);
  if (target.empty()) return;
  forward[ns + "/" + name] = target;
  reverse[ns + "/" + target].insert(name);
}

void CertificateDependencies::unlink(Forward& forward, Reverse& reverse, const std::string& ns,
                                     const std::string& name) {
  auto found = forward.find(ns + "/" + name);
  if (found == forward.end()) return;
  auto targets = reverse.find(ns + "/" + found->second);
  if (targets != reverse.end()) {
    targets->second.erase(name);
    if (targets->second.empty()) reverse.erase(targets);
  }
  forward.erase(found);
}

void CertificateDependencies::observe(const store::WatchEvent& event) {
  const bool deleted = event.type == store::WatchEvent::Type::kDeleted || !event.object;
  std::lock_guard lock(mutex_);
  if (event.key.kind == "Certificate") {
    if (deleted) {
      unlink(certificateIssuer_, issuerCertificates_, event.key.ns, event.key.name);
    } else {
      link(certificateIssuer_, issuerCertificates_, event.key.ns, event.key.name,
           stringAt(*event.object, "/spec/issuerRef/name"_json_pointer));
    }
  } else if (event.key.kind == "Issuer") {
    if (deleted) {
      unlink(issuerCA_, caIssuers_, event.key.ns, event.key.name);
    } else {
      link(issuerCA_, caIssuers_, event.key.ns, event.key.name,
           stringAt(*event.object, "/spec/ca/certificateRef/name"_json_pointer));
    }
  }
}

std::vector<std::string> CertificateDependencies::issuersUsingCA(
    const std::string& ns, const std::string& certificate) const {
  std::lock_guard lock(mutex_);
  auto found = caIssuers_.find(ns + "/" + certificate);
  if (found == caIssuers_.end()) return {};
  return {found->second.begin(), found->second.end()};
}

std::vector<std::string> CertificateDependencies::certificatesOfIssuer(
    const std::string& ns, const std::string& issuer) const {
  std::lock_guard lock(mutex_);
  auto found = issuerCertificates_.find(ns + "/" + issuer);
  if (found == issuerCertificates_.end()) return {};
  return {found->second.begin(), found->second.end()};
}

}  // namespace siteplane::reconcile
