#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/api/time.h"
#include "controller/compile/compiler.h"
#include "controller/reconcile/reconciler.h"
#include "controller/store/store.h"
#include "dataplane/table/publish_report.h"

namespace spdlog {
class logger;
}

namespace siteplane::compile {

// Publishes a table and calls back once it is applied (DataPlane::publish, or a fake in tests).
using PublishFunction = std::function<void(std::shared_ptr<const table::BindingTable>,
                                           std::function<void(const table::PublishReport&)>)>;

struct CompileOptions {
  std::filesystem::path manifestsDir;  // relative Site roots resolve against it
  // No Site may serve it (root the same, inside or around it): serve's state directory.
  std::filesystem::path stateDir;
  // What Sites' CRL files may be read from: the policy Certificate imports obey. Unset: anywhere.
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy;
  // A burst of store events within this window costs one compile pass.
  Clock::Duration debounce = std::chrono::milliseconds(100);
  // How long to wait for the data plane to apply a table before retrying the pass.
  std::chrono::milliseconds reportTimeout{30000};
  // When a listener could not bind (port in use), the pass runs again after this long, so that a
  // port freed later is picked up without an edit.
  Clock::Duration bindRetry = std::chrono::seconds(5);
  // Its wallNow() is the compile input's now (certificate validity); tests inject a fake one.
  // Must outlive the reconciler.
  const Clock* clock = &Clock::real();
  // Registers the CRL files the sites name (owner kKey; an empty list forgets them), so that a
  // replaced CRL is re-read as soon as it changes (FileWatcher, enqueueing kKey). Unset: no watch.
  std::function<void(const std::string& owner, std::vector<std::filesystem::path> files)>
      watchFiles;
  // While any site names a CRL, the pass also runs this often: the safety net for a watch that
  // missed a change, and what notices a CRL passing its nextUpdate.
  Clock::Duration crlCheckInterval = std::chrono::seconds(60);
};

// The level-triggered compile pass: one key for the whole table. It reads every Site, Binding and
// Certificate from the store, compiles a BindingTable (Compiler), publishes it, waits for the data
// plane's report and writes each Binding's and Site's status — only where it changed.
//
// Binding status after a pass:
//   Accepted      True
//   ResolvedRefs  True, or False: SiteNotFound, CertificateNotFound, CertificateNotReady,
//                 CertificateHostMismatch, ClientCANotFound, InvalidCertificate
//   Conflicted    False, or True: HostnameConflict, ProtocolConflict (the oldest binding serves)
//   Programmed    True once the data plane serves the table (listenAddress, servedThumbprint,
//                 tableGeneration set), or False: PortUnavailable (bind error in the message),
//                 RefsNotResolved, Conflicted
// Site status: Ready (False: SiteIdConflict, ClientCANotFound, InvalidCRL, CRLExpired,
// RootNotFound) and siteId.
class CompileReconciler final : public reconcile::Reconciler {
 public:
  static constexpr const char* kKind = "BindingTable";
  // The one key of the compile pass.
  static constexpr const char* kKey = "BindingTable/siteplane/table";

  // `store` and `certificates` must outlive the reconciler.
  CompileReconciler(store::Store& store, const certs::CertificateStore& certificates,
                    PublishFunction publish, CompileOptions options);

  std::string_view kind() const override { return kKind; }
  reconcile::ReconcileResult reconcile(const std::string& key) noexcept override;
  void keysFor(const store::WatchEvent& event,
               std::vector<reconcile::QueuedKey>& keys) noexcept override;
  // The pass runs once at start even for a store with no Site, Binding or Certificate, so the
  // data plane always gets a first table (empty then) and readiness does not wait for an edit.
  void initialKeys(std::vector<reconcile::QueuedKey>& keys) noexcept override;

 private:
  reconcile::ReconcileResult run();
  // The data plane's report on `table`, or nothing when it did not come within reportTimeout.
  std::optional<table::PublishReport> publishAndWait(
      std::shared_ptr<const table::BindingTable> table);
  size_t writeStatuses(std::vector<store::WriteOp> writes, spdlog::logger& log);
  reconcile::ReconcileResult nextPass(bool bindFailed, bool watchesCrls) const;

  store::Store& store_;
  PublishFunction publish_;
  const CompileOptions options_;
  Compiler compiler_;            // only touched by run(), which never runs twice at once
  uint64_t nextGeneration_ = 0;  // 0: not yet derived from the stored statuses
  std::vector<std::filesystem::path> watchedCrls_;  // what watchFiles last registered

  // The generation of every Site and Binding last seen in the watch: a change that leaves it
  // (status, annotations) does not change the table, so it does not trigger a pass — which is
  // also what keeps the pass's own status writes from triggering another.
  std::mutex seenMutex_;  // guards seen_
  std::unordered_map<std::string, int64_t> seen_;
};

}  // namespace siteplane::compile
