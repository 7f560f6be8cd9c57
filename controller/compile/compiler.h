#pragma once

// The compile pass proper: typed Sites, Bindings and Certificates in, a complete BindingTable and
// the status every Site and Binding should have out. No store and no data plane here, so that the
// rules (references, conflicts, site ids, the TLS context cache) are tested on their own;
// CompileReconciler feeds it from the store and publishes what it builds.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/object_key.h"
#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/api/site.h"
#include "controller/certs/import_path_policy.h"
#include "controller/compile/binding_refs.h"
#include "controller/compile/certificate_cache.h"
#include "controller/compile/client_trust.h"
#include "controller/compile/condition_plan.h"
#include "controller/compile/site_roots.h"
#include "controller/compile/site_state.h"
#include "controller/compile/tls_context_cache.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::certs {
class CertificateStore;
}
namespace siteplane::tls {
class ServerContext;
}

namespace siteplane::compile {

struct CompileInput {
  std::vector<api::Site> sites;
  std::vector<api::Binding> bindings;
  std::vector<api::Certificate> certificates;
  uint64_t generation = 0;  // of the table to build
  api::Time now{};          // validity checks and lastTransitionTime
};

struct BindingPlan {
  ObjectKey key;
  // Accepted, ResolvedRefs, Conflicted, and Programmed=False when the binding is not in the table.
  // Programmed for a binding in the table is decided by the data plane's report.
  std::vector<ConditionPlan> conditions;
  bool inTable = false;
  table::ListenerKey listener;
  std::shared_ptr<const tls::ServerContext> tls;  // what the table serves for it (https)
};

struct SitePlan {
  ObjectKey key;
  std::optional<int64_t> siteId;
  ConditionPlan ready;
};

struct CompileOutput {
  std::shared_ptr<const table::BindingTable> table;  // every binding that can be served
  std::vector<BindingPlan> bindings;                 // one per input binding, input order
  std::vector<SitePlan> sites;                       // one per input site, input order
  // The CRL files the table's sites name (resolved), for the caller to watch.
  std::vector<std::filesystem::path> crlFiles;
  size_t contextsBuilt = 0;  // SSL_CTXs created (not from the cache)
  size_t contextsReused = 0;
};

// Builds tables, keeping what is expensive between passes: certificate bundles read from the
// CertificateStore (by Certificate and thumbprint) and TLS contexts (by certificate thumbprint and
// the site's SSL settings), so that a change to one certificate rebuilds only the contexts that
// serve it. Not thread-safe: one compile at a time (the compile key is never run twice at once).
class Compiler {
 public:
  // `certificates` must outlive the compiler. Relative Site roots (objects created through the
  // API; manifest files resolve their own) resolve against `manifestsDir`. A Site whose root is,
  // holds or lies inside one of `protectedDirs` (serve: the state directory, with the API token,
  // CA and private keys) is refused (Ready=False RootNotAllowed) and none of its bindings served;
  // paths are compared canonically, at every compile.
  // CRL files are read through `importPolicy` when one is given (serve: the same directories
  // Certificate imports may read, never the state directory).
  Compiler(const certs::CertificateStore& certificates, std::filesystem::path manifestsDir,
           std::vector<std::filesystem::path> protectedDirs = {},
           std::shared_ptr<const certs::ImportPathPolicy> importPolicy = nullptr);

  CompileOutput compile(const CompileInput& input);

 private:
  // The passes, in order; each reads what the ones before it decided.
  std::vector<SiteState> assessSites(const CompileInput& input, CompileOutput& out);
  std::vector<Candidate> resolveBindings(const CompileInput& input,
                                         const std::vector<SiteState>& sites, CompileOutput& out,
                                         std::vector<ConditionPlan>& resolved);
  void settleSites(const CompileInput& input, const std::vector<Candidate>& winners,
                   std::vector<SiteState>& sites, CompileOutput& out) const;
  std::shared_ptr<const table::BindingTable> buildTable(const CompileInput& input,
                                                        const std::vector<Candidate>& winners,
                                                        const std::vector<SiteState>& sites,
                                                        CompileOutput& out,
                                                        std::vector<ConditionPlan>& resolved);

  CertificateCache certificates_;
  SiteRoots roots_;
  ClientTrustLoader trust_;
  TlsContextCache contexts_;
};

}  // namespace siteplane::compile
