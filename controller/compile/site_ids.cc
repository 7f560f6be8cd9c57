#include "controller/compile/site_ids.h"

#include <fmt/format.h>

#include <unordered_map>

#include "controller/compile/object_age.h"

namespace siteplane::compile {

std::vector<SiteIdAssignment> assignSiteIds(const std::vector<api::Site>& sites) {
  std::vector<SiteIdAssignment> out(sites.size());
  const std::vector<size_t> order = oldestFirst(sites);
  std::unordered_map<int64_t, size_t> owner;
  for (size_t i : order) {
    const api::Site& site = sites[i];
    if (!site.spec.siteId) continue;
    auto [holder, claimed] = owner.emplace(*site.spec.siteId, i);
    if (claimed) {
      out[i].siteId = site.spec.siteId;
      continue;
    }
    const api::ObjectMeta& older = sites[holder->second].metadata;
    out[i].conflict = conditionPlan(
        api::condition_type::kReady, api::ConditionStatus::kFalse, reason::kSiteIdConflict,
        fmt::format("spec.siteId {} is already used by Site {}/{}", *site.spec.siteId,
                    older.namespaceName, older.name));
  }
  for (size_t i : order) {
    const api::Site& site = sites[i];
    if (site.spec.siteId || !site.status.siteId) continue;
    if (owner.emplace(*site.status.siteId, i).second) out[i].siteId = site.status.siteId;
  }
  int64_t nextFree = 1;
  for (size_t i : order) {
    if (out[i].siteId || sites[i].spec.siteId) continue;
    while (owner.count(nextFree)) ++nextFree;
    owner.emplace(nextFree, i);
    out[i].siteId = nextFree;
  }
  return out;
}

}  // namespace siteplane::compile
