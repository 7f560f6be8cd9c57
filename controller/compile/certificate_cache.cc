#include "controller/compile/certificate_cache.h"

#include <fmt/format.h>

#include "controller/certs/certificate_store.h"
#include "controller/compile/condition_plan.h"

namespace siteplane::compile {

void CertificateCache::beginPass(const std::vector<api::Certificate>& certificates) {
  byName_.clear();
  byName_.reserve(certificates.size());
  for (const auto& certificate : certificates)
    byName_[certificate.metadata.namespaceName + "/" + certificate.metadata.name] = &certificate;
  std::erase_if(bundles_, [&](const auto& entry) { return !byName_.count(entry.first); });
}

const api::Certificate* CertificateCache::find(const std::string& key) const {
  auto found = byName_.find(key);
  return found == byName_.end() ? nullptr : found->second;
}

CertificateCache::Lookup CertificateCache::lookup(const std::string& ns, const std::string& name,
                                                  api::Time now) {
  const std::string key = ns + "/" + name;
  const api::Certificate* certificate = find(key);
  if (!certificate)
    return {nullptr, reason::kCertificateNotFound, fmt::format("Certificate {} not found", key)};
  const api::Condition* ready =
      api::findCondition(certificate->status.conditions, api::condition_type::kReady);
  if (!ready || ready->status != api::ConditionStatus::kTrue) {
    std::string why = ready ? fmt::format("{}: {}", ready->reason, ready->message)
                            : std::string("no Ready condition yet");
    return {nullptr, reason::kCertificateNotReady,
            fmt::format("Certificate {} is not Ready ({})", key, why)};
  }
  const std::string& thumbprint = certificate->status.thumbprint;
  if (thumbprint.empty())
    return {nullptr, reason::kCertificateNotReady,
            fmt::format("Certificate {} is Ready but has no status.thumbprint", key)};

  std::shared_ptr<const certs::CertificateBundle> bundle;
  auto cached = bundles_.find(key);
  if (cached != bundles_.end() && cached->second.thumbprint == thumbprint) {
    bundle = cached->second.bundle;
  } else {
    auto stored = store_.get(key);
    if (!stored)
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {}: certificate store: {}", key, stored.message())};
    if (!stored->has_value())
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {} has no key pair in the certificate store", key)};
    if ((*stored)->leaf().thumbprint() != thumbprint)
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {}: the stored certificate {} is not status.thumbprint {}",
                          key, (*stored)->leaf().thumbprint(), thumbprint)};
    bundle = std::make_shared<const certs::CertificateBundle>(std::move(**stored));
    bundles_[key] = {thumbprint, bundle};
  }
  // The certificate reconciler reports expiry as Ready=False; checked here as well because a
  // status written before the certificate expired may not have been refreshed yet, and serving an
  // expired certificate is never right.
  auto validity = bundle->leaf().validityAt(now);
  if (validity != certs::Validity::kValid)
    return {
        nullptr, reason::kCertificateNotReady,
        fmt::format("Certificate {} ({}) is {}", key, thumbprint, certs::validityReason(validity))};
  return {std::move(bundle), "", ""};
}

}  // namespace siteplane::compile
