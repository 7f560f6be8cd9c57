#pragma once

// Reference resolution: a Binding names a Site (which must exist and whose root may be served),
// and an https Binding a Certificate (Ready, valid, covering its host) and inherits its site's
// client trust (every CA and CRL present). A binding whose references resolve becomes a
// candidate for its listener; one that does not gets ResolvedRefs=False with the first reason.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/api/binding.h"
#include "controller/compile/certificate_cache.h"
#include "controller/compile/condition_plan.h"
#include "controller/compile/site_state.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::compile {

// A binding whose references resolved, competing for its (listener, host).
struct Candidate {
  size_t binding = 0;  // index into the pass's bindings
  size_t site = 0;     // index into the pass's sites
  table::ListenerKey listener;
  std::string host;                                        // lower-case, no trailing dot
  std::shared_ptr<const certs::CertificateBundle> bundle;  // https only
};

struct BindingRefs {
  ConditionPlan resolvedRefs;
  std::optional<Candidate> candidate;  // set when every reference resolved
};

// `sitesByName`: "namespace/name" -> index into `sites`.
BindingRefs resolveBindingRefs(const api::Binding& binding, size_t index,
                               const std::unordered_map<std::string, size_t>& sitesByName,
                               const std::vector<SiteState>& sites, CertificateCache& certificates,
                               api::Time now);

}  // namespace siteplane::compile
