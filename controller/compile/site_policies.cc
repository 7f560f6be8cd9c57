#include "controller/compile/site_policies.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "controller/compile/table_conversion.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;

ConditionPlan notReady(const char* why, std::string message) {
  return conditionPlan(api::condition_type::kReady, ConditionStatus::kFalse, why,
                       std::move(message));
}

}  // namespace

void assignHttpsRedirectPorts(const std::vector<Candidate>& winners,
                              const std::vector<api::Binding>& bindings,
                              std::vector<SiteState>& sites) {
  for (const auto& winner : winners) {
    const api::Binding& binding = bindings[winner.binding];
    if (binding.spec.protocol == api::Protocol::kHttps && !sites[winner.site].httpsRedirectPort)
      sites[winner.site].httpsRedirectPort = binding.spec.port;
  }
}

std::shared_ptr<const table::SitePolicy> makeSitePolicy(const api::Site& site,
                                                        const SiteState& state,
                                                        const SiteRoots& roots) {
  auto policy = std::make_shared<table::SitePolicy>();
  policy->name = site.metadata.namespaceName + "/" + site.metadata.name;
  policy->siteId = state.siteId.value_or(0);
  if (!site.spec.root.empty()) policy->root = roots.resolve(site);
  policy->upstream = site.spec.upstream;
  policy->requireSSL = site.spec.ssl.requireSSL;
  policy->redirectHTTP = site.spec.ssl.redirectHTTP;
  policy->require128BitCiphers = site.spec.ssl.require128BitCiphers;
  policy->clientCertificate = toTable(site.spec.ssl.clientCertificate);
  policy->minTLSVersion = toTable(site.spec.ssl.minTLSVersion);
  policy->httpsRedirectPort = state.httpsRedirectPort ? state.httpsRedirectPort : 443;
  return policy;
}

ConditionPlan siteReady(const api::Site& site, const SiteState& state) {
  if (!state.rootError.empty()) return notReady(reason::kRootNotAllowed, state.rootError);
  if (!state.trust.error.empty()) {
    return notReady(
        state.trust.crlReason.empty() ? reason::kClientCANotFound : state.trust.crlReason.c_str(),
        state.trust.error);
  }
  if (!state.trust.crlReason.empty())
    return notReady(state.trust.crlReason.c_str(), state.trust.crlMessage);
  std::error_code ec;
  if (!site.spec.root.empty() && !std::filesystem::is_directory(state.policy->root, ec)) {
    return notReady(reason::kRootNotFound,
                    fmt::format("spec.root {} is not a directory", state.policy->root.string()));
  }
  return conditionPlan(api::condition_type::kReady, ConditionStatus::kTrue, reason::kReady,
                       fmt::format("site id {}", state.siteId.value_or(0)));
}

}  // namespace siteplane::compile
