#pragma once

// Listener conflicts: the oldest binding claims a (listener, host) and its port's protocol; a
// younger one asking for either is not served (Conflicted=True), so creating a conflicting
// binding never takes a working one off the air. One protocol per port whatever the address: a
// connection on an exact address whose host no route takes is routed by the "*" listener of that
// port, which must speak the same protocol.

#include <vector>

#include "controller/api/binding.h"
#include "controller/compile/binding_refs.h"
#include "controller/compile/condition_plan.h"

namespace siteplane::compile {

// The candidates that won their claims, oldest first. `conflicted` (one per binding of
// `bindings`) receives each candidate's Conflicted condition, True with the older holder or False.
std::vector<Candidate> claimListeners(std::vector<Candidate> candidates,
                                      const std::vector<api::Binding>& bindings,
                                      std::vector<ConditionPlan>& conflicted);

}  // namespace siteplane::compile
