#pragma once

// The first pass: every Site gets its numeric id (IIS's site id, in logs and metrics). Explicit
// spec.siteId values claim in age order; an id assigned before (status.siteId) is kept while it
// is free, so ids do not move around; every other site gets the lowest free id.

#include <cstdint>
#include <optional>
#include <vector>

#include "controller/api/site.h"
#include "controller/compile/condition_plan.h"

namespace siteplane::compile {

struct SiteIdAssignment {
  std::optional<int64_t> siteId;          // none when spec.siteId is taken by an older site
  std::optional<ConditionPlan> conflict;  // Ready=False SiteIdConflict, naming the holder
};

// One assignment per site, in input order.
std::vector<SiteIdAssignment> assignSiteIds(const std::vector<api::Site>& sites);

}  // namespace siteplane::compile
