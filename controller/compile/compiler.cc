#include "controller/compile/compiler.h"

#include <algorithm>

#include "common/logging.h"
#include "controller/api/validation.h"
#include "controller/compile/listener_claims.h"
#include "controller/compile/site_ids.h"
#include "controller/compile/site_policies.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;
namespace condition_type = api::condition_type;

bool hasCondition(const BindingPlan& plan, const char* type) {
  return std::any_of(plan.conditions.begin(), plan.conditions.end(),
                     [&](const ConditionPlan& c) { return c.type == type; });
}

// ResolvedRefs goes second (after Accepted), and every binding not in the table says why in
// Programmed=False: its references, or the conflict it lost.
void finishBindingConditions(BindingPlan& plan, const ConditionPlan& resolved) {
  plan.conditions.insert(plan.conditions.begin() + 1, resolved);
  const bool hasConflicted = hasCondition(plan, condition_type::kConflicted);
  if (plan.inTable || hasCondition(plan, condition_type::kProgrammed)) return;
  if (resolved.status != ConditionStatus::kTrue) {
    if (!hasConflicted)
      plan.conditions.push_back(conditionPlan(condition_type::kConflicted, ConditionStatus::kFalse,
                                              reason::kNoConflicts, "no conflicts"));
    plan.conditions.push_back(conditionPlan(condition_type::kProgrammed, ConditionStatus::kFalse,
                                            reason::kRefsNotResolved,
                                            "not served: " + resolved.message));
  } else if (hasConflicted) {
    plan.conditions.push_back(conditionPlan(condition_type::kProgrammed, ConditionStatus::kFalse,
                                            reason::kConflicted,
                                            "not served: " + plan.conditions.back().message));
  }
}

table::BindingTable::Entry tableEntry(const Candidate& winner, const api::Binding& binding,
                                      const SiteState& site,
                                      std::shared_ptr<const tls::ServerContext> context) {
  table::BindingTable::Entry entry;
  entry.listener = winner.listener;
  entry.protocol = binding.spec.protocol == api::Protocol::kHttps ? table::Protocol::kHttps
                                                                  : table::Protocol::kHttp;
  entry.route.binding = binding.metadata.namespaceName + "/" + binding.metadata.name;
  entry.route.bindingGeneration = binding.metadata.generation;
  entry.route.hostName = binding.spec.hostName;
  entry.route.site = site.policy;
  entry.route.tls = std::move(context);
  return entry;
}

}  // namespace

Compiler::Compiler(const certs::CertificateStore& certificates, std::filesystem::path manifestsDir,
                   std::vector<std::filesystem::path> protectedDirs,
                   std::shared_ptr<const certs::ImportPathPolicy> importPolicy)
    : certificates_(certificates),
      roots_(manifestsDir, std::move(protectedDirs), importPolicy),
      trust_(manifestsDir, importPolicy),
      contexts_(certificates) {}

CompileOutput Compiler::compile(const CompileInput& input) {
  CompileOutput out;
  certificates_.beginPass(input.certificates);
  std::vector<SiteState> sites = assessSites(input, out);
  std::vector<ConditionPlan> resolved(input.bindings.size());
  std::vector<Candidate> candidates = resolveBindings(input, sites, out, resolved);
  std::vector<ConditionPlan> conflicted(input.bindings.size());
  std::vector<Candidate> winners =
      claimListeners(std::move(candidates), input.bindings, conflicted);
  for (size_t b = 0; b < conflicted.size(); ++b)
    if (!conflicted[b].type.empty()) out.bindings[b].conditions.push_back(std::move(conflicted[b]));
  settleSites(input, winners, sites, out);
  out.table = buildTable(input, winners, sites, out, resolved);
  for (size_t b = 0; b < out.bindings.size(); ++b)
    finishBindingConditions(out.bindings[b], resolved[b]);
  return out;
}

// Site ids, whether each root may be served, and each site's client trust.
std::vector<SiteState> Compiler::assessSites(const CompileInput& input, CompileOutput& out) {
  const std::vector<SiteIdAssignment> ids = assignSiteIds(input.sites);
  std::vector<std::string> rootErrors = roots_.refusals(input.sites);
  std::vector<SiteState> sites(input.sites.size());
  out.sites.resize(input.sites.size());
  trust_.beginPass();
  for (size_t i = 0; i < sites.size(); ++i) {
    const api::Site& site = input.sites[i];
    sites[i].site = &site;
    sites[i].siteId = ids[i].siteId;
    sites[i].rootError = std::move(rootErrors[i]);
    sites[i].trust = trust_.load(site, certificates_, input.now, out.crlFiles);
    out.sites[i].key = {api::Site::kKind, site.metadata.namespaceName, site.metadata.name};
    if (ids[i].conflict) out.sites[i].ready = *ids[i].conflict;
  }
  trust_.endPass();
  return sites;
}

// Every binding is Accepted (validation refused the rest before the store took them); those
// whose references resolve are candidates for their listener.
std::vector<Candidate> Compiler::resolveBindings(const CompileInput& input,
                                                 const std::vector<SiteState>& sites,
                                                 CompileOutput& out,
                                                 std::vector<ConditionPlan>& resolved) {
  std::unordered_map<std::string, size_t> sitesByName;
  for (size_t i = 0; i < input.sites.size(); ++i)
    sitesByName[input.sites[i].metadata.namespaceName + "/" + input.sites[i].metadata.name] = i;
  std::vector<Candidate> candidates;
  candidates.reserve(input.bindings.size());
  out.bindings.resize(input.bindings.size());
  for (size_t b = 0; b < input.bindings.size(); ++b) {
    const api::Binding& binding = input.bindings[b];
    BindingPlan& plan = out.bindings[b];
    plan.key = {api::Binding::kKind, binding.metadata.namespaceName, binding.metadata.name};
    plan.listener = {api::canonicalListenAddress(binding.spec.address), binding.spec.port};
    plan.conditions.push_back(conditionPlan(condition_type::kAccepted, ConditionStatus::kTrue,
                                            reason::kAccepted, "the binding is valid"));
    BindingRefs refs = resolveBindingRefs(binding, b, sitesByName, sites, certificates_, input.now);
    resolved[b] = std::move(refs.resolvedRefs);
    if (refs.candidate) candidates.push_back(std::move(*refs.candidate));
  }
  return candidates;
}

// Each site's policy, now that its served https bindings are known, and its Ready condition.
void Compiler::settleSites(const CompileInput& input, const std::vector<Candidate>& winners,
                           std::vector<SiteState>& sites, CompileOutput& out) const {
  assignHttpsRedirectPorts(winners, input.bindings, sites);
  for (size_t i = 0; i < sites.size(); ++i) {
    sites[i].policy = makeSitePolicy(input.sites[i], sites[i], roots_);
    SitePlan& plan = out.sites[i];
    plan.siteId = sites[i].siteId;
    if (plan.ready.type.empty()) plan.ready = siteReady(input.sites[i], sites[i]);
  }
}

// The winners with their TLS contexts (from the cache when the certificate and the site's SSL
// settings are unchanged). A context that cannot be built makes its binding's ResolvedRefs False.
std::shared_ptr<const table::BindingTable> Compiler::buildTable(
    const CompileInput& input, const std::vector<Candidate>& winners,
    const std::vector<SiteState>& sites, CompileOutput& out, std::vector<ConditionPlan>& resolved) {
  table::BindingTable::Builder builder(input.generation);
  contexts_.beginPass();
  for (const auto& winner : winners) {
    const api::Binding& binding = input.bindings[winner.binding];
    BindingPlan& plan = out.bindings[winner.binding];
    const SiteState& site = sites[winner.site];
    std::shared_ptr<const tls::ServerContext> context;
    if (winner.bundle) {
      auto found = contexts_.contextFor(winner, binding, site, certificates_);
      if (!found) {
        resolved[winner.binding] =
            conditionPlan(condition_type::kResolvedRefs, ConditionStatus::kFalse,
                          reason::kInvalidCertificate, found.message());
        continue;
      }
      context = std::move(*found);
    }
    Status added = builder.add(tableEntry(winner, binding, site, context));
    if (!added) {
      // Conflicts were resolved above, so a refusal is a bug here; report it on the binding
      // rather than failing the whole table.
      logger("controller.compile")
          ->error("table_refused binding={} error=\"{}\"", plan.key.toString(), added.message());
      plan.conditions.push_back(conditionPlan(condition_type::kProgrammed, ConditionStatus::kFalse,
                                              reason::kInvalid, added.message()));
      continue;
    }
    plan.inTable = true;
    plan.tls = std::move(context);
  }
  contexts_.endPass();
  out.contextsBuilt = contexts_.built();
  out.contextsReused = contexts_.reused();
  return std::move(builder).build();
}

}  // namespace siteplane::compile
