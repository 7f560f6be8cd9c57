#include "controller/compile/condition_plan.h"

namespace siteplane::compile {

void mergeConditions(std::vector<api::Condition>& conditions,
                     const std::vector<ConditionPlan>& plans, int64_t generation, api::Time now) {
  for (const auto& plan : plans) {
    api::Condition next;
    next.type = plan.type;
    next.status = plan.status;
    next.reason = plan.reason;
    next.message = plan.message;
    next.observedGeneration = generation;
    // setCondition keeps lastTransitionTime unless the status flips; its result is not needed
    // here because callers compare the whole encoded status before writing.
    (void)api::setCondition(conditions, std::move(next), now);
  }
}

}  // namespace siteplane::compile
