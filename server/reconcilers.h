#pragma once

#include <filesystem>
#include <functional>
#include <memory>

#include "common/status.h"
#include "controller/certs/certificate_store.h"
#include "controller/certs/import_path_policy.h"
#include "controller/reconcile/certificate_acme.h"
#include "controller/reconcile/controller_manager.h"
#include "controller/source/file_watcher.h"
#include "controller/store/store.h"
#include "dataplane/loop/data_plane.h"

namespace siteplane::server {

// What the reconcilers share: the process's store, certificate store and data plane.
struct ControllerContext {
  store::Store& store;
  certs::CertificateStore& certificates;
  loop::DataPlane& dataPlane;
  reconcile::ControllerManager& manager;
  std::filesystem::path manifestsDir;
  source::FileWatcher& sourceFiles;  // the files imported Certificates and Sites' CRLs read
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy;  // what spec.source may read
  std::filesystem::path stateDir;                               // no Site may serve it
  const Clock& clock;
  // Kubernetes mode (null otherwise): whether this replica leads, and the Certificate Secret
  // writer (CertificateReconcilerOptions::mayWrite, publishMaterial).
  std::function<bool()> mayWrite = nullptr;
  std::function<Status(const std::string&, const certs::CertificateBundle&)> publishMaterial =
      nullptr;
  std::function<Result<certs::CertificateBundle>(const std::string&, const std::string&)>
      readSecret = nullptr;
  reconcile::AcmeServices acme =
      {};  // ACME Issuers' accounts and the data plane's challenge answers
};

// Registers every reconciler of the controller, by kind: Certificate, Issuer and the compile
// pass that publishes to the data plane. Each module adds its own here.
Status addReconcilers(const ControllerContext& context);

}  // namespace siteplane::server
