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

#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/api/object_key.h"
#include "controller/api/site.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/import_path_policy.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::certs {
class CertificateStore;
}
namespace siteplane::tls {
class ServerContext;
}

namespace siteplane::compile {

// Condition types and reasons written by the compile pass (Gateway API spelling where it has one).
namespace reason {
inline constexpr const char* kAccepted = "Accepted";
inline constexpr const char* kResolvedRefs = "ResolvedRefs";
inline constexpr const char* kSiteNotFound = "SiteNotFound";
inline constexpr const char* kCertificateNotFound = "CertificateNotFound";
inline constexpr const char* kCertificateNotReady = "CertificateNotReady";
inline constexpr const char* kCertificateHostMismatch = "CertificateHostMismatch";
inline constexpr const char* kClientCANotFound = "ClientCANotFound";
// A clientCARefs[].crlFile that cannot be read, does not parse or is not issued by its CA (with
// a last good CRL the site keeps serving with it; without one its https bindings are not served).
inline constexpr const char* kInvalidCRL = "InvalidCRL";
// A CRL past its nextUpdate: certificates of that CA get 403.13 until a fresh one is loaded.
inline constexpr const char* kCRLExpired = "CRLExpired";
inline constexpr const char* kInvalidCertificate = "InvalidCertificate";
inline constexpr const char* kNoConflicts = "NoConflicts";
inline constexpr const char* kHostnameConflict = "HostnameConflict";
inline constexpr const char* kProtocolConflict = "ProtocolConflict";
inline constexpr const char* kProgrammed = "Programmed";
inline constexpr const char* kPending = "Pending";
inline constexpr const char* kRefsNotResolved = "RefsNotResolved";
inline constexpr const char* kConflicted = "Conflicted";
inline constexpr const char* kPortUnavailable = "PortUnavailable";
inline constexpr const char* kReady = "Ready";
inline constexpr const char* kSiteIdConflict = "SiteIdConflict";
inline constexpr const char* kRootNotFound = "RootNotFound";
inline constexpr const char* kRootNotAllowed = "RootNotAllowed";
}  // namespace reason

struct CompileInput {
  std::vector<api::Site> sites;
  std::vector<api::Binding> bindings;
  std::vector<api::Certificate> certificates;
  uint64_t generation = 0;  // of the table to build
  api::Time now{};          // validity checks and lastTransitionTime
};

// One condition the pass decided on; observedGeneration and lastTransitionTime are filled when it
// is merged into the object's status.
struct ConditionPlan {
  std::string type;
  api::ConditionStatus status = api::ConditionStatus::kUnknown;
  std::string reason;
  std::string message;
};

struct BindingPlan {
  api::ObjectKey key;
  // Accepted, ResolvedRefs, Conflicted, and Programmed=False when the binding is not in the table.
  // Programmed for a binding in the table is decided by the data plane's report.
  std::vector<ConditionPlan> conditions;
  bool inTable = false;
  table::ListenerKey listener;
  std::shared_ptr<const tls::ServerContext> tls;  // what the table serves for it (https)
};

struct SitePlan {
  api::ObjectKey key;
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
  struct LoadedCertificate {
    std::string thumbprint;
    std::shared_ptr<const certs::CertificateBundle> bundle;
  };
  // The bundle of a Ready certificate, checked against its status thumbprint, or why there is none
  // (reason + message).
  struct CertificateLookup {
    std::shared_ptr<const certs::CertificateBundle> bundle;
    std::string reason;
    std::string message;
  };
  CertificateLookup lookupCertificate(
      const std::string& ns, const std::string& name,
      const std::unordered_map<std::string, const api::Certificate*>& byName, api::Time now);

  // A client CA's CRL as last read and checked, kept so that a file replaced by a broken one does
  // not lose revocation: "path|CA thumbprint" -> the last good content.
  struct LoadedCrl {
    std::string data;
    int64_t nextUpdate = 0;  // seconds since the epoch, 0 when the CRL has none
  };
  // Reads a clientCARefs[].crlFile. Every CRL path the controller opens goes through here, so
  // that a restriction of the directories it may read applies in one place. Relative paths
  // (objects created through the API) resolve against the manifests directory, as the
  // certificate reconciler resolves spec.source paths.
  // Why the Site's root may not be served ("" when it may): a pseudo filesystem, the state
  // directory (one of `protectedDirs`, canonical), or for a Site from the API a directory outside
  // the manifest directory and the import roots.
  std::string refuseRoot(const api::Site& site,
                         const std::vector<std::filesystem::path>& protectedDirs) const;
  Result<std::string> readCrlFile(const std::string& path, certs::ImportOrigin origin,
                                  std::filesystem::path& resolved) const;

  const certs::CertificateStore& certificates_;
  const std::filesystem::path manifestsDir_;
  const std::vector<std::filesystem::path> protectedDirs_;
  const std::shared_ptr<const certs::ImportPathPolicy> importPolicy_;  // null: no restriction
  std::unordered_map<std::string, LoadedCertificate> bundles_;         // "namespace/name"
  std::unordered_map<std::string, std::shared_ptr<const tls::ServerContext>> contexts_;
  std::unordered_map<std::string, LoadedCrl> crls_;
};

// The status a Binding's or Site's conditions should have after merging `plans` (observedGeneration
// = `generation`; lastTransitionTime moves only on a flip).
void mergeConditions(std::vector<api::Condition>& conditions,
                     const std::vector<ConditionPlan>& plans, int64_t generation, api::Time now);

}  // namespace siteplane::compile
