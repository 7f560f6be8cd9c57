#pragma once

// Site policies: what the data plane enforces for every request a site's bindings receive (root,
// SSL settings, where plain http is redirected), and the Site's Ready condition.

#include <memory>
#include <vector>

#include "controller/api/binding.h"
#include "controller/api/site.h"
#include "controller/compile/binding_refs.h"
#include "controller/compile/condition_plan.h"
#include "controller/compile/site_roots.h"
#include "controller/compile/site_state.h"

namespace siteplane::compile {

// A site redirects plain http to its oldest served https binding (`winners` are oldest first).
void assignHttpsRedirectPorts(const std::vector<Candidate>& winners,
                              const std::vector<api::Binding>& bindings,
                              std::vector<SiteState>& sites);

std::shared_ptr<const table::SitePolicy> makeSitePolicy(const api::Site& site,
                                                        const SiteState& state,
                                                        const SiteRoots& roots);

// Ready=False with the first reason the site is not served as declared (its root refused, a
// client CA or CRL missing, a stale CRL, a root that is not a directory), else Ready=True.
// Precondition: state.policy is set.
ConditionPlan siteReady(const api::Site& site, const SiteState& state);

}  // namespace siteplane::compile
