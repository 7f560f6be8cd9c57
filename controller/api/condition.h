#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/time.h"

namespace siteplane::api {

enum class ConditionStatus { kTrue, kFalse, kUnknown };

// The condition types siteplane writes, spelled once (Gateway API spelling where it has one).
namespace condition_type {
inline constexpr const char* kReady = "Ready";                // Certificate, Issuer, Site
inline constexpr const char* kIssuing = "Issuing";            // Certificate
inline constexpr const char* kAccepted = "Accepted";          // Binding
inline constexpr const char* kResolvedRefs = "ResolvedRefs";  // Binding
inline constexpr const char* kConflicted = "Conflicted";      // Binding
inline constexpr const char* kProgrammed = "Programmed";      // Binding
}  // namespace condition_type

const char* toString(ConditionStatus status);
std::optional<ConditionStatus> parseConditionStatus(std::string_view text);

// A Kubernetes-form status condition. Types: Ready (Certificate, Issuer, Site); Accepted,
// ResolvedRefs, Conflicted, Programmed (Binding); Issuing (Certificate).
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;  // CamelCase, e.g. CertificateNotReady
  std::string message;
  Time lastTransitionTime{};
  int64_t observedGeneration = 0;

  bool operator==(const Condition&) const = default;
};

// Sets `condition` in `conditions` (replacing the one of the same type). lastTransitionTime moves
// to `now` only when the status flips (or the condition is new), so that "since when" stays true
// across reconciles that merely repeat it; the given condition's own lastTransitionTime is ignored.
// Returns true when anything changed, so callers write status only when it did.
bool setCondition(std::vector<Condition>& conditions, Condition condition, Time now);

// The condition of that type, or nullptr.
const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type);

// True when the condition exists with status True.
bool isConditionTrue(const std::vector<Condition>& conditions, std::string_view type);

// Removes the condition of that type; returns true when there was one.
bool removeCondition(std::vector<Condition>& conditions, std::string_view type);

}  // namespace siteplane::api
