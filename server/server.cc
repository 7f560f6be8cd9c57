#include "server/server.h"

#include <string>
#include <system_error>
#include <utility>

#include "controller/certs/import_path_policy.h"
#include "controller/compile/compile_reconciler.h"
#include "controller/source/manifest_source.h"
#include "dataplane/static/protected_directories.h"
#include "server/acme_reach.h"
#include "server/reconcilers.h"
#include "server/runtime_view.h"

namespace siteplane::server {

namespace fs = std::filesystem;

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  std::unique_ptr<Server> server(new Server(std::move(options)));
  // Each step needs the parts before it; the first failure is the answer.
  for (auto step : {&Server::prepareDirectories, &Server::createStores, &Server::createDataPlane,
                    &Server::createSource, &Server::createController, &Server::createApi,
                    &Server::createHealth}) {
    if (Status created = (server.get()->*step)(); !created) return created;
  }
  return server;
}

Server::~Server() {
  if (started_) stop(std::chrono::milliseconds(0));
}

Status Server::prepareDirectories() {
  std::error_code ec;
  // Kubernetes mode has no manifest directory, and an empty path must stay empty: made absolute
  // it would name the working directory, which objects claiming a manifest file could import from.
  if (!options_.manifests.empty()) options_.manifests = fs::absolute(options_.manifests, ec);
  options_.state = fs::absolute(options_.state, ec);
  fs::create_directories(options_.state, ec);
  if (ec) return Status::error("state directory " + options_.state.string() + ": " + ec.message());
  for (auto& root : options_.importRoots) root = fs::absolute(root, ec);
  // Whatever a Site's root, the data plane never serves the state directory (API token, CA and
  // private keys); the compiler also refuses such roots, and says so on the Site.
  staticfiles::protectDirectories({options_.state});
  return Status::ok();
}

// State loads before anything is served.
Status Server::createStores() {
  auto store = store::Store::create(options_.state, *options_.clock);
  if (!store) return store.status();
  store_ = std::move(store).value();
  auto certificates = certs::CertificateStore::open(options_.state / "certificates");
  if (!certificates) return certificates.status();
  certificates_ = std::move(certificates).value();
  return Status::ok();
}

Status Server::createDataPlane() {
  // ACME challenge answers: the Certificate reconciler adds them, every worker reads them.
  acme_.challenges = std::make_shared<table::ChallengeAnswers>();
  acme_.accounts = std::make_shared<acme::AccountRegistry>(options_.state / "acme" / "accounts");
  acme_.pendingKeys = options_.state / "acme" / "pending-keys";
  // An account the CA no longer knows is registered again by its Issuer's next reconcile.
  acme_.accounts->onForget([this](const std::string& issuerKey) {
    if (manager_) manager_->enqueue({"Issuer/" + issuerKey});
  });
  loop::DataPlaneOptions planeOptions = options_.dataPlane;
  planeOptions.challenges = acme_.challenges;
  auto dataPlane = loop::DataPlane::create(std::move(planeOptions));
  if (!dataPlane) return dataPlane.status();
  dataPlane_ = std::move(dataPlane).value();
  challengeSync_ = std::make_unique<reconcile::AcmeChallengeSync>(acme_.challenges);
  // What is stored, then every change after that snapshot (none lost, none applied twice).
  const uint64_t synced = challengeSync_->applyAll(*store_);
  auto watched = store_->watch(
      synced,
      [sync = challengeSync_.get()](const store::WatchEvent& event) { sync->observe(event); });
  if (!watched) return watched.status().withContext("ACME challenge answers");
  challengeSubscription_ = std::move(*watched);
  return Status::ok();
}

// The one place a source is chosen: the manifest directory, or the Kubernetes API.
Status Server::createSource() {
  if (options_.kubernetes) return createKubernetesSource();
  auto source = source::ManifestSource::create(*store_, {options_.manifests});
  if (!source) return source.status();
  source_ = std::move(source).value();
  return Status::ok();
}

Status Server::createKubernetesSource() {
  KubernetesMode::Hooks hooks;
  // The manager is created next and stopped after the source, so it exists whenever a hook runs.
  hooks.materialChanged = [this](const ObjectKey& certificate) {
    if (!manager_) return;
    manager_->enqueue({certificate.toString()});
    manager_->enqueue({compile::CompileReconciler::kKey});
  };
  hooks.startedLeading = [this] { requeueCertificates(); };
  auto mode =
      KubernetesMode::create(*options_.kubernetes, *store_, *certificates_, std::move(hooks));
  if (!mode) return mode.status().withContext("Kubernetes");
  kubernetes_ = std::move(mode).value();
  source_ = kubernetes_->takeSource();
  return Status::ok();
}

void Server::requeueCertificates() {
  if (!manager_) return;
  // Issuers first: an ACME Issuer registers its account only while this replica leads.
  for (const char* kind : {"Issuer", "Certificate"}) {
    for (const auto& object : store_->list({kind, std::nullopt, {}}).items) {
      const auto& metadata = (*object)["metadata"];
      manager_->enqueue({std::string(kind) + "/" + metadata.value("namespace", "") + "/" +
                         metadata.value("name", "")});
    }
  }
}

Status Server::createController() {
  manager_ = std::make_unique<reconcile::ControllerManager>(*store_, *options_.clock);
  // Stopped before the manager, so no change is queued into a stopped queue; a reconciler
  // registering files after that is a no-op.
  reconcile::ControllerManager* manager = manager_.get();
  auto sourceFiles = source::FileWatcher::create({[manager](const std::string& key) {
    // The delay lets a writer finish (a key file written after its certificate file) and
    // coalesces the events of one replacement into one reconcile.
    manager->enqueue({key, std::chrono::milliseconds(100)});
  }});
  if (!sourceFiles) return sourceFiles.status();
  sourceFiles_ = std::move(sourceFiles).value();
  certs::ImportPathPolicyOptions importOptions{
      options_.manifests, options_.importRoots, {options_.state}};
  auto importPolicy = std::make_shared<const certs::ImportPathPolicy>(
      certs::ImportPathPolicy::create(importOptions));
  ControllerContext context{*store_,      *certificates_,     *dataPlane_,
                            *manager_,    options_.manifests, *sourceFiles_,
                            importPolicy, options_.state,     *options_.clock};
  context.acme = acme_;
  loop::DataPlane* plane = dataPlane_.get();
  store::Store* objects = store_.get();
  context.acme.claimedElsewhere = [objects](const std::vector<std::string>& names,
                                            const std::string& ns) {
    return bindingClaimingElsewhere(*objects, names, ns);
  };
  context.acme.listening = [plane](const std::string& name, bool https) {
    return challengeListenerOpen(*plane, name, https);
  };
  if (kubernetes_) {
    KubernetesMode* mode = kubernetes_.get();
    context.mayWrite = [mode] { return mode->isLeader(); };
    context.acme.answerPublished = [mode](const std::string& storeKey, const std::string& token) {
      return mode->clusterCarriesChallenge(storeKey, token);
    };
    context.publishMaterial = [mode](const std::string& key, const certs::CertificateBundle& b) {
      return mode->writeSecret(key, b);
    };
    context.readSecret = [mode](const std::string& ns, const std::string& name) {
      return mode->readSecret(ns, name);
    };
  }
  return addReconcilers(context);
}

// The store has loaded (the source synced it before the API starts); ready once the data plane
// serves a first table. The compile pass publishes one at start even when nothing is declared.
// The listeners stop before the data plane, the metrics and the Kubernetes parts go, so the
// pointers outlive every call.
std::vector<apiserver::ReadyCheck> Server::readyChecks() const {
  const loop::DataPlane* plane = dataPlane_.get();
  std::vector<apiserver::ReadyCheck> checks = {
      {"binding-table",
       [plane] {
         return plane->currentTable() ? std::string() : std::string("no binding table is live yet");
       },
       nullptr}};
  if (kubernetes_) {
    for (auto& check : kubernetes_->readyChecks()) checks.push_back(std::move(check));
  }
  return checks;
}

std::function<Status(metrics::ExpositionWriter&)> Server::metricsWriter() const {
  const monitoring::ServeMetrics* metrics = metrics_.get();
  const KubernetesMode* mode = kubernetes_.get();
  return [metrics, mode](metrics::ExpositionWriter& out) {
    Status written = metrics->write(out);
    if (written && mode) written = mode->writeMetrics(out);
    return written;
  };
}

Status Server::createApi() {
  metrics_ =
      std::make_unique<monitoring::ServeMetrics>(*dataPlane_, *manager_, *store_, *options_.clock);
  if (!options_.api) return Status::ok();
  apiserver::ApiServerOptions apiOptions = *options_.api;
  apiOptions.stateDir = options_.state;
  apiOptions.clock = options_.clock;
  apiOptions.readyChecks = readyChecks();
  apiOptions.metrics = metricsWriter();
  apiOptions.runtime = runtimeView(dataPlane_.get());
  auto api = apiserver::ApiServer::create(apiOptions, *store_);
  if (!api) return api.status().withContext("API server");
  api_ = std::move(api).value();
  return Status::ok();
}

// Kubernetes mode's probes and metrics, since its API server is off.
Status Server::createHealth() {
  if (options_.healthListen.empty()) return Status::ok();
  apiserver::ApiServerOptions healthOptions;
  // ":8081" (the chart's form, Go's convention) is every address: the kubelet probes the pod's IP.
  healthOptions.listen = options_.healthListen.starts_with(':') ? "0.0.0.0" + options_.healthListen
                                                                : options_.healthListen;
  healthOptions.probesOnly = true;
  healthOptions.clock = options_.clock;
  healthOptions.readyChecks = readyChecks();
  healthOptions.metrics = metricsWriter();
  auto health = apiserver::ApiServer::create(healthOptions, *store_);
  if (!health) return health.status().withContext("health listener");
  health_ = std::move(health).value();
  return Status::ok();
}

Status Server::start() {
  if (Status started = dataPlane_->start(); !started) return started;
  if (Status started = source_->start(); !started) {
    dataPlane_->stop(std::chrono::milliseconds(0));
    return started;
  }
  manager_->start(options_.controllerWorkers);
  started_ = true;
  if (kubernetes_) {
    if (Status started = kubernetes_->start(); !started) {
      stop(std::chrono::milliseconds(0));
      return started;
    }
  }
  if (health_) {
    if (Status started = health_->start(); !started) {
      stop(std::chrono::milliseconds(0));
      return std::move(started).withContext("health listener");
    }
  }
  if (api_) {
    if (Status started = api_->start(); !started) {
      stop(std::chrono::milliseconds(0));
      return std::move(started).withContext("API server");
    }
  }
  return Status::ok();
}

void Server::stop(std::chrono::milliseconds drain) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  if (api_) api_->stop();
  if (health_) health_->stop();
  // A leader releases its Lease first, so another replica takes over without waiting for it.
  if (kubernetes_) kubernetes_->stop();
  source_->stop();
  sourceFiles_->stop();
  manager_->stop();
  dataPlane_->stop(drain);
}

void Server::rescan() { source_->rescan(); }

}  // namespace siteplane::server
