#pragma once

// The conditions the compile pass decides on, and the reasons it writes (Gateway API spelling
// where it has one). A plan is what a condition should say; observedGeneration and
// lastTransitionTime are filled in when it is merged into an object's status.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "controller/api/condition.h"

namespace siteplane::compile {

namespace reason {
inline constexpr const char* kAccepted = "Accepted";
inline constexpr const char* kResolvedRefs = "ResolvedRefs";
inline constexpr const char* kSiteNotFound = "SiteNotFound";
inline constexpr const char* kCertificateNotFound = "CertificateNotFound";
inline constexpr const char* kCertificateNotReady = "CertificateNotReady";
inline constexpr const char* kCertificateHostMismatch = "CertificateHostMismatch";
inline constexpr const char* kClientCANotFound = "ClientCANotFound";
// A clientCARefs[].crlFile that cannot be read, does not parse or is not issued by its CA (with
// a last good CRL the site keeps serving with it; without one its https bindings are not served).
inline constexpr const char* kInvalidCRL = "InvalidCRL";
// A CRL past its nextUpdate: certificates of that CA get 403.13 until a fresh one is loaded.
inline constexpr const char* kCRLExpired = "CRLExpired";
inline constexpr const char* kInvalidCertificate = "InvalidCertificate";
inline constexpr const char* kNoConflicts = "NoConflicts";
inline constexpr const char* kHostnameConflict = "HostnameConflict";
inline constexpr const char* kProtocolConflict = "ProtocolConflict";
inline constexpr const char* kProgrammed = "Programmed";
inline constexpr const char* kPending = "Pending";
inline constexpr const char* kRefsNotResolved = "RefsNotResolved";
inline constexpr const char* kConflicted = "Conflicted";
inline constexpr const char* kPortUnavailable = "PortUnavailable";
inline constexpr const char* kReady = "Ready";
inline constexpr const char* kSiteIdConflict = "SiteIdConflict";
inline constexpr const char* kRootNotFound = "RootNotFound";
inline constexpr const char* kRootNotAllowed = "RootNotAllowed";
// The table refused an entry the conflict pass let through: a bug, reported on the binding.
inline constexpr const char* kInvalid = "Invalid";
}  // namespace reason

struct ConditionPlan {
  std::string type;
  api::ConditionStatus status = api::ConditionStatus::kUnknown;
  std::string reason;
  std::string message;
};

inline ConditionPlan conditionPlan(const char* type, api::ConditionStatus status,
                                   std::string reason, std::string message) {
  return {type, status, std::move(reason), std::move(message)};
}

// The status a Binding's or Site's conditions should have after merging `plans` (observedGeneration
// = `generation`; lastTransitionTime moves only on a flip).
void mergeConditions(std::vector<api::Condition>& conditions,
                     const std::vector<ConditionPlan>& plans, int64_t generation, api::Time now);

}  // namespace siteplane::compile
