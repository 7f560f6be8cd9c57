#include "controller/compile/binding_refs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "controller/api/validation.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;

std::string lowerHost(std::string host) {
  if (!host.empty() && host.back() == '.') host.pop_back();
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

ConditionPlan unresolved(const char* why, std::string message) {
  return conditionPlan(api::condition_type::kResolvedRefs, ConditionStatus::kFalse, why,
                       std::move(message));
}

// The certificate an https binding serves, or why it has none it may serve.
std::optional<ConditionPlan> resolveCertificate(const api::Binding& binding, const SiteState& site,
                                                CertificateCache& certificates, api::Time now,
                                                Candidate& candidate) {
  const std::string& ns = binding.metadata.namespaceName;
  if (!binding.spec.certificateRef)
    return unresolved(reason::kCertificateNotFound, "an https binding needs spec.certificateRef");
  const std::string& name = binding.spec.certificateRef->name;
  auto found = certificates.lookup(ns, name, now);
  if (!found.bundle) return unresolved(found.reason.c_str(), found.message);
  if (!binding.spec.hostName.empty() && !found.bundle->leaf().coversHost(binding.spec.hostName)) {
    const auto& info = found.bundle->leaf().info();
    std::string names = fmt::format("{}", fmt::join(info.dnsNames, ", "));
    if (!info.ipAddresses.empty())
      names += (names.empty() ? "" : ", ") + fmt::format("{}", fmt::join(info.ipAddresses, ", "));
    return unresolved(
        reason::kCertificateHostMismatch,
        fmt::format("Certificate {}/{} ({}) does not cover host {}: its names are [{}]", ns, name,
                    info.thumbprint, binding.spec.hostName, names));
  }
  if (!site.trust.error.empty()) {
    return unresolved(
        site.trust.crlReason.empty() ? reason::kClientCANotFound : reason::kInvalidCRL,
        site.trust.error);
  }
  candidate.bundle = std::move(found.bundle);
  return std::nullopt;
}

}  // namespace

BindingRefs resolveBindingRefs(const api::Binding& binding, size_t index,
                               const std::unordered_map<std::string, size_t>& sitesByName,
                               const std::vector<SiteState>& sites, CertificateCache& certificates,
                               api::Time now) {
  const std::string& ns = binding.metadata.namespaceName;
  auto site = sitesByName.find(ns + "/" + binding.spec.siteRef.name);
  if (site == sitesByName.end()) {
    return {unresolved(reason::kSiteNotFound,
                       fmt::format("Site {}/{} not found", ns, binding.spec.siteRef.name)),
            std::nullopt};
  }
  const SiteState& state = sites[site->second];
  if (!state.rootError.empty()) return {unresolved(reason::kRootNotAllowed, state.rootError), {}};
  // "0.0.0.0", "::", "0:0::1", "::ffff:127.0.0.1": the form connections are routed by, so that a
  // listener the table opens is one its routes are found on.
  Candidate candidate{index,
                      site->second,
                      {api::canonicalListenAddress(binding.spec.address), binding.spec.port},
                      lowerHost(binding.spec.hostName),
                      nullptr};
  if (binding.spec.protocol == api::Protocol::kHttps) {
    if (auto failed = resolveCertificate(binding, state, certificates, now, candidate))
      return {std::move(*failed), std::nullopt};
  }
  return {conditionPlan(api::condition_type::kResolvedRefs, ConditionStatus::kTrue,
                        reason::kResolvedRefs, "every reference is resolved"),
          std::move(candidate)};
}

}  // namespace siteplane::compile
