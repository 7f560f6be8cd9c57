#include "controller/reconcile/certificate_status.h"

#include <algorithm>

namespace siteplane::reconcile {

using std::chrono::system_clock;

api::Time toTime(system_clock::time_point time) {
  return std::chrono::floor<std::chrono::seconds>(time);
}

std::string formatTime(system_clock::time_point time) { return api::formatTime(toTime(time)); }

void ConditionSetter::operator()(const char* type, bool isTrue, const char* why,
                                 std::string message) const {
  api::setCondition(status_.conditions,
                    {type,
                     isTrue ? api::ConditionStatus::kTrue : api::ConditionStatus::kFalse,
                     why,
                     std::move(message),
                     {},
                     generation_},
                    toTime(now_));
}

void describe(api::CertificateStatus& status, const certs::Certificate& leaf,
              std::optional<system_clock::time_point> renewal) {
  const certs::CertificateInfo& info = leaf.info();
  if (status.thumbprint != info.thumbprint) status.revision += 1;
  status.thumbprint = info.thumbprint;
  status.sha256Fingerprint = info.sha256Fingerprint;
  status.serialNumber = info.serialNumber;
  status.issuer = info.issuer;
  status.subject = info.subject;
  status.dnsNames = info.dnsNames;
  status.notBefore = toTime(info.notBefore);
  status.notAfter = toTime(info.notAfter);
  status.renewalTime = renewal ? std::optional<api::Time>(toTime(*renewal)) : std::nullopt;
}

ReconcileResult requeueAt(system_clock::time_point when, system_clock::time_point now) {
  auto delay = std::chrono::ceil<std::chrono::seconds>(when - now);
  return ReconcileResult::requeueAfter(std::max(delay, std::chrono::seconds(1)));
}

}  // namespace siteplane::reconcile
