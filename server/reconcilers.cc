#include "server/reconcilers.h"

#include <string>
#include <utility>
#include <vector>

#include "controller/compile/compile_reconciler.h"
#include "controller/events/event_recorder.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/issuer_reconciler.h"

namespace siteplane::server {
namespace {

namespace fs = std::filesystem;

// The file watcher is stopped before the manager, and both outlive the reconcilers' last
// reconcile, so the borrowed pointer is valid whenever a reconciler registers files.
auto watchWith(source::FileWatcher* sourceFiles) {
  return [sourceFiles](const std::string& key, std::vector<fs::path> files) {
    sourceFiles->watch(key, std::move(files));
  };
}

std::unique_ptr<reconcile::CertificateReconciler> certificateReconciler(
    const ControllerContext& context) {
  reconcile::CertificateReconcilerOptions options;
  options.manifestsDir = context.manifestsDir;
  options.importPolicy = context.importPolicy;
  // A replaced source file is seen by its watch; the periodic look is only the safety net.
  options.sourceCheckInterval = std::chrono::seconds(30);
  options.watchSourceFiles = watchWith(&context.sourceFiles);
  options.clock = &context.clock;
  options.mayWrite = context.mayWrite;
  options.publishMaterial = context.publishMaterial;
  options.readSecret = context.readSecret;
  options.acme = context.acme;
  options.events = std::make_shared<events::EventRecorder>(
      context.store, events::EventRecorderOptions{.component = "siteplane-certificate-controller",
                                                  .clock = &context.clock});
  return std::make_unique<reconcile::CertificateReconciler>(context.store, context.certificates,
                                                            options);
}

std::unique_ptr<compile::CompileReconciler> compileReconciler(const ControllerContext& context) {
  compile::CompileOptions options;
  options.manifestsDir = context.manifestsDir;
  options.stateDir = context.stateDir;
  options.importPolicy = context.importPolicy;
  // Sites' CRL files, watched like imported certificate files (the owner is the compile key).
  options.watchFiles = watchWith(&context.sourceFiles);
  options.clock = &context.clock;
  // The data plane is stopped after the manager, so it outlives every publish.
  loop::DataPlane* dataPlane = &context.dataPlane;
  return std::make_unique<compile::CompileReconciler>(
      context.store, context.certificates,
      [dataPlane](std::shared_ptr<const table::BindingTable> table,
                  std::function<void(const table::PublishReport&)> onApplied) {
        dataPlane->publish(std::move(table), std::move(onApplied));
      },
      options);
}

}  // namespace

Status addReconcilers(const ControllerContext& context) {
  bool added = context.manager.add(certificateReconciler(context)) &&
               context.manager.add(std::make_unique<reconcile::IssuerReconciler>(
                   context.store, context.certificates,
                   reconcile::IssuerReconcilerOptions{.clock = &context.clock,
                                                      .acmeAccounts = context.acme.accounts,
                                                      .importPolicy = context.importPolicy,
                                                      .mayWrite = context.mayWrite})) &&
               context.manager.add(compileReconciler(context));
  if (!added) return Status::error("two reconcilers registered for one kind");
  return Status::ok();
}

}  // namespace siteplane::server
