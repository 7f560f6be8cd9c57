#include "controller/api/condition.h"

#include <algorithm>

namespace siteplane::api {

const char* toString(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

std::optional<ConditionStatus> parseConditionStatus(std::string_view text) {
  if (text == "True") return ConditionStatus::kTrue;
  if (text == "False") return ConditionStatus::kFalse;
  if (text == "Unknown") return ConditionStatus::kUnknown;
  return std::nullopt;
}

bool setCondition(std::vector<Condition>& conditions, Condition condition, Time now) {
  auto existing = std::find_if(conditions.begin(), conditions.end(),
                               [&](const Condition& c) { return c.type == condition.type; });
  if (existing == conditions.end()) {
    condition.lastTransitionTime = now;
    conditions.push_back(std::move(condition));
    return true;
  }
  condition.lastTransitionTime =
      existing->status == condition.status ? existing->lastTransitionTime : now;
  if (*existing == condition) return false;
  *existing = std::move(condition);
  return true;
}

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const auto& condition : conditions) {
    if (condition.type == type) return &condition;
  }
  return nullptr;
}

bool isConditionTrue(const std::vector<Condition>& conditions, std::string_view type) {
  const Condition* condition = findCondition(conditions, type);
  return condition && condition->status == ConditionStatus::kTrue;
}

bool removeCondition(std::vector<Condition>& conditions, std::string_view type) {
  auto removed = std::erase_if(conditions, [&](const Condition& c) { return c.type == type; });
  return removed > 0;
}

}  // namespace siteplane::api
