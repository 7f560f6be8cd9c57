#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "controller/apiserver/api_server.h"
#include "controller/certs/certificate_store.h"
#include "controller/monitoring/serve_metrics.h"
#include "controller/reconcile/acme_challenge_sync.h"
#include "controller/reconcile/certificate_acme.h"
#include "controller/reconcile/controller_manager.h"
#include "controller/source/file_watcher.h"
#include "controller/source/source.h"
#include "controller/store/store.h"
#include "dataplane/loop/data_plane.h"
#include "server/kubernetes_mode.h"
#include "server/server_options.h"

namespace siteplane::server {

// One siteplane process's parts, wired together: the object store and certificate store (state
// loads before anything is served), the data plane, the manifest source, the file watcher of
// imported files, the controller with every reconciler and the compile pass, metrics and the API
// server. `siteplane serve` is flag parsing and signals around it; tests run a whole one
// in-process. Order of creation, start and stop: server/README.md.
//
// Thread-safety: create, start and stop from one thread; rescan() and the accessors from any.
class Server {
 public:
  // Creates every part, in dependency order; fails with the message of the first part that
  // cannot be created (serve prints it after "siteplane serve: "). Nothing serves yet.
  static Result<std::unique_ptr<Server>> create(ServerOptions options);
  ~Server();  // stop(0) when started and not stopped
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts the data plane, then the source (which syncs the store once before returning), the
  // controller and the API server. On failure what was started is stopped again.
  // Precondition: called once.
  Status start();
  // Stops the inputs first (API, source, file watcher: no new work), then the controller (a
  // pass in flight finishes and writes its status), then the data plane, whose connections get
  // `drain` to finish. Every store write was durable when it returned, so nothing is left to
  // flush. Idempotent.
  void stop(std::chrono::milliseconds drain);
  // Reads the sources again now (SIGHUP). Any thread.
  void rescan();

  store::Store& store() { return *store_; }
  certs::CertificateStore& certificates() { return *certificates_; }
  const certs::CertificateStore& certificates() const { return *certificates_; }
  loop::DataPlane& dataPlane() { return *dataPlane_; }
  const loop::DataPlane& dataPlane() const { return *dataPlane_; }
  source::Source& source() { return *source_; }
  reconcile::ControllerManager& controller() { return *manager_; }
  // Null without an API server (ServerOptions::api unset).
  apiserver::ApiServer* api() { return api_.get(); }
  // Null without a health listener (ServerOptions::healthListen empty).
  apiserver::ApiServer* health() { return health_.get(); }
  // Null in the embedded mode.
  KubernetesMode* kubernetes() { return kubernetes_.get(); }
  // The API's bound port once started; 0 without an API server.
  int apiPort() const { return api_ ? api_->port() : 0; }
  // Absolute.
  const std::filesystem::path& manifestsDir() const { return options_.manifests; }
  const std::filesystem::path& stateDir() const { return options_.state; }

 private:
  explicit Server(ServerOptions options) : options_(std::move(options)) {}

  Status prepareDirectories();
  Status createStores();
  Status createDataPlane();
  Status createSource();
  Status createController();
  Status createKubernetesSource();
  Status createApi();
  Status createHealth();
  std::vector<apiserver::ReadyCheck> readyChecks() const;
  std::function<Status(metrics::ExpositionWriter&)> metricsWriter() const;
  // Every Certificate again, after this replica became leader (Kubernetes mode).
  void requeueCertificates();
  void stopStarted(std::chrono::milliseconds drain);

  ServerOptions options_;
  // Declared in creation order, so that destruction runs in reverse: each part outlives those
  // that borrow it.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<certs::CertificateStore> certificates_;
  std::unique_ptr<loop::DataPlane> dataPlane_;
  reconcile::AcmeServices acme_;  // ACME accounts and challenge answers
  // Fills acme_.challenges from the Certificates' status on every replica.
  std::unique_ptr<reconcile::AcmeChallengeSync> challengeSync_;
  store::Subscription challengeSubscription_;
  std::unique_ptr<KubernetesMode> kubernetes_;  // outlives the source, which shares its statuses
  std::unique_ptr<source::Source> source_;
  std::unique_ptr<reconcile::ControllerManager> manager_;
  std::unique_ptr<source::FileWatcher> sourceFiles_;
  std::unique_ptr<monitoring::ServeMetrics> metrics_;
  std::unique_ptr<apiserver::ApiServer> api_;
  std::unique_ptr<apiserver::ApiServer> health_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace siteplane::server
