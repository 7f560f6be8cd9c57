#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "common/logging.h"
#include "controller/apiserver/api_server.h"
#include "controller/certs/certificate_store.h"
#include "controller/certs/import_path_policy.h"
#include "controller/compile/compile_reconciler.h"
#include "controller/events/event_recorder.h"
#include "controller/monitoring/serve_metrics.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/controller_manager.h"
#include "controller/reconcile/issuer_reconciler.h"
#include "controller/runtime/explanation.h"
#include "controller/runtime/sslcert_report.h"
#include "controller/source/file_watcher.h"
#include "controller/source/manifest_source.h"
#include "controller/store/store.h"
#include "dataplane/loop/data_plane.h"
#include "dataplane/static/protected_directories.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;

struct ServeOptions {
  std::string manifests;
  std::string state;
  unsigned workers = 0;
  std::string logLevel = "info";
  std::string logFormat = "text";
  std::string accessLogFormat = "w3c";
  double drainSeconds = 10;
  std::string apiListen = "127.0.0.1:6443";  // "off": no API server
  bool allowApiOverride = false;
  // Data-plane limits; the defaults are loop::Limits' and loop::DataPlaneOptions' own.
  size_t maxHeaderBytes = loop::Limits{}.maxHeaderBytes;
  double headerTimeoutSeconds = loop::Limits{}.headerTimeout.count() / 1000.0;
  size_t maxBodyBytes = loop::Limits{}.maxBodyBytes;
  double keepAliveSeconds = loop::Limits{}.keepAliveTimeout.count() / 1000.0;
  double handshakeTimeoutSeconds = loop::Limits{}.handshakeTimeout.count() / 1000.0;
  size_t maxConnectionsPerWorker = loop::Limits{}.maxConnectionsPerWorker;
  size_t maxConnectionsPerAddress = loop::Limits{}.maxConnectionsPerAddress;
  double bindingDrainSeconds = loop::DataPlaneOptions{}.drainTimeout.count() / 1000.0;
  size_t apiMaxConnections = apiserver::ApiServerOptions{}.maxConnections;
  size_t apiMaxConnectionsPerAddress = apiserver::ApiServerOptions{}.maxConnectionsPerAddress;
  int64_t apiRequestTimeoutSeconds = apiserver::ApiServerOptions{}.requestTimeout.count();
  // Directories Certificates may import files from, besides the manifest directory (which only
  // objects declared by manifest files may).
  std::vector<std::string> importRoots;
};

std::chrono::milliseconds milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// Reconcile threads. Most of a reconcile is waiting for a durable write, and the object store
// and the certificate store commit the writes of concurrent reconcilers together, so more threads
// than cores is what makes thousands of Certificates import in seconds rather than minutes.
constexpr unsigned kControllerWorkers = 16;

// What the reconcilers share: the process's store, certificate store and data plane.
struct ControllerContext {
  store::Store& store;
  certs::CertificateStore& certificates;
  loop::DataPlane& dataPlane;
  reconcile::ControllerManager& manager;
  fs::path manifestsDir;
  source::FileWatcher& sourceFiles;  // the files imported Certificates and Sites' CRLs read
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy;  // what spec.source may read
  fs::path stateDir;                                            // no Site may serve it
};

// Every reconciler of the controller, registered by kind. Each module adds its own here.
bool addReconcilers(const ControllerContext& context) {
  reconcile::CertificateReconcilerOptions certificateOptions;
  certificateOptions.manifestsDir = context.manifestsDir;
  certificateOptions.importPolicy = context.importPolicy;
  // A replaced source file is seen by its watch; the periodic look is only the safety net.
  certificateOptions.sourceCheckInterval = std::chrono::seconds(30);
  source::FileWatcher* sourceFiles = &context.sourceFiles;
  certificateOptions.watchSourceFiles = [sourceFiles](const std::string& key,
                                                      std::vector<fs::path> files) {
    sourceFiles->watch(key, std::move(files));
  };
  certificateOptions.events = std::make_shared<events::EventRecorder>(
      context.store, events::EventRecorderOptions{.component = "siteplane-certificate-controller"});
  if (!context.manager.add(std::make_unique<reconcile::CertificateReconciler>(
          context.store, context.certificates, certificateOptions)))
    return false;
  if (!context.manager.add(
          std::make_unique<reconcile::IssuerReconciler>(context.store, context.certificates)))
    return false;
  compile::CompileOptions compileOptions;
  compileOptions.manifestsDir = context.manifestsDir;
  compileOptions.stateDir = context.stateDir;
  compileOptions.importPolicy = context.importPolicy;
  // Sites' CRL files, watched like imported certificate files (the owner is the compile key).
  compileOptions.watchFiles = [sourceFiles](const std::string& key, std::vector<fs::path> files) {
    sourceFiles->watch(key, std::move(files));
  };
  loop::DataPlane* dataPlane = &context.dataPlane;
  return context.manager.add(std::make_unique<compile::CompileReconciler>(
      context.store, context.certificates,
      [dataPlane](std::shared_ptr<const table::BindingTable> table,
                  std::function<void(const table::PublishReport&)> onApplied) {
        dataPlane->publish(std::move(table), std::move(onApplied));
      },
      compileOptions));
}

// /runtime/sslcert and /runtime/explain answer from the table the workers serve now, never from
// the spec, with the listeners the data plane could not open. The API server is stopped before
// the data plane goes, so the pointer outlives it.
apiserver::RuntimeView runtimeView(const loop::DataPlane* dataPlane) {
  auto live = [dataPlane] {
    loop::DataPlane::LiveTable live = dataPlane->liveTable();
    runtime::ListenerErrors closed;
    for (const auto& listener : live.listeners)
      if (!listener.listening) closed.emplace(listener.key, listener.error);
    return std::make_pair(std::move(live.table), std::move(closed));
  };
  apiserver::RuntimeView view;
  view.sslcert =
      [live](const std::multimap<std::string, std::string>& query) -> Result<nlohmann::json> {
    auto filter = runtime::parseSslCertFilter(query);
    if (!filter) return filter.status();
    auto [table, closed] = live();
    return runtime::toJson(runtime::sslCertReport(table.get(), closed, *filter));
  };
  view.explain =
      [live](const std::multimap<std::string, std::string>& query) -> Result<nlohmann::json> {
    auto parsed = runtime::parseExplainQuery(query);
    if (!parsed) return parsed.status();
    auto [table, closed] = live();
    return runtime::toJson(runtime::explain(table.get(), *parsed, closed));
  };
  return view;
}

// How to try what is served, printed once the first table is live.
void printHowToTry(const table::BindingTable& table, const certs::CertificateStore& certificates,
                   std::ostream& out) {
  std::set<std::string> lines;
  for (const auto& listener : table.listeners()) {
    const auto& key = listener->key();
    std::string ip = key.address == "*" ? "127.0.0.1" : key.address;
    std::string authority = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    for (const auto& route : listener->routes()) {
      bool wildcard = route.hostName.rfind("*.", 0) == 0;
      std::string host = route.hostName.empty() ? authority
                         : wildcard             ? "www" + route.hostName.substr(1)
                                                : route.hostName;
      std::string port = std::to_string(key.port);
      std::string resolve =
          route.hostName.empty() ? std::string() : " --resolve " + host + ":" + port + ":" + ip;
      if (listener->protocol() == table::Protocol::kHttps && route.tls) {
        lines.insert("curl --cacert " + certificates.chainPath(route.tls->name()).string() +
                     resolve + " https://" + host + ":" + port + "/");
      } else {
        lines.insert("curl" + resolve + " http://" + host + ":" + port + "/");
      }
    }
  }
  if (lines.empty()) {
    out << "siteplane: serving, no binding is programmed yet\n";
    return;
  }
  out << "siteplane: serving " << table.bindingCount() << " bindings; try:\n";
  for (const auto& line : lines) out << "  " << line << "\n";
  out.flush();
}

int serve(const ServeOptions& options) {
  if (!configureLogging(options.logLevel,
                        options.logFormat == "json" ? LogFormat::kJson : LogFormat::kText)) {
    std::cerr << "unknown --log-level \"" << options.logLevel
              << "\" (trace, debug, info, warn, error, critical, off)\n";
    return kExitUsage;
  }
  http::AccessLogFormat accessLog;
  if (!http::parseAccessLogFormat(options.accessLogFormat, accessLog)) {
    std::cerr << "unknown --access-log-format \"" << options.accessLogFormat
              << "\" (w3c, json, off)\n";
    return kExitUsage;
  }
  auto log = logger("cli.serve");

  // The signals serve handles are blocked before any thread starts, so every thread inherits the
  // mask and only the sigwait below receives them: SIGINT and SIGTERM stop, SIGHUP rescans.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  std::error_code ec;
  fs::path manifests = fs::absolute(options.manifests, ec);
  fs::path state = fs::absolute(options.state, ec);
  fs::create_directories(state, ec);
  if (ec) {
    std::cerr << "siteplane serve: state directory " << state.string() << ": " << ec.message()
              << "\n";
    return kExitFailure;
  }

  // Whatever a Site's root, the data plane never serves the state directory (API token, CA and
  // private keys); the compiler also refuses such roots, and says so on the Site.
  staticfiles::protectDirectories({state});

  // State loads before anything is served.
  auto store = store::Store::create(state);
  if (!store) {
    std::cerr << "siteplane serve: " << store.message() << "\n";
    return kExitFailure;
  }
  auto certificates = certs::CertificateStore::open(state / "certificates");
  if (!certificates) {
    std::cerr << "siteplane serve: " << certificates.message() << "\n";
    return kExitFailure;
  }
  loop::DataPlaneOptions planeOptions;
  planeOptions.workers = options.workers;
  planeOptions.accessLog = accessLog;
  planeOptions.limits.maxHeaderBytes = options.maxHeaderBytes;
  planeOptions.limits.headerTimeout = milliseconds(options.headerTimeoutSeconds);
  planeOptions.limits.maxBodyBytes = options.maxBodyBytes;
  planeOptions.limits.keepAliveTimeout = milliseconds(options.keepAliveSeconds);
  planeOptions.limits.handshakeTimeout = milliseconds(options.handshakeTimeoutSeconds);
  planeOptions.limits.maxConnectionsPerWorker = options.maxConnectionsPerWorker;
  planeOptions.limits.maxConnectionsPerAddress = options.maxConnectionsPerAddress;
  planeOptions.drainTimeout = milliseconds(options.bindingDrainSeconds);
  auto dataPlane = loop::DataPlane::create(planeOptions);
  if (!dataPlane) {
    std::cerr << "siteplane serve: " << dataPlane.message() << "\n";
    return kExitFailure;
  }
  if (Status started = (*dataPlane)->start(); !started) {
    std::cerr << "siteplane serve: " << started.message() << "\n";
    return kExitFailure;
  }
  auto source = source::ManifestSource::create(**store, {manifests});
  if (!source) {
    std::cerr << "siteplane serve: " << source.message() << "\n";
    (*dataPlane)->stop(std::chrono::milliseconds(0));
    return kExitFailure;
  }

  reconcile::ControllerManager manager(**store);
  // Stopped before the manager (below), so no change is queued into a stopped queue; a
  // reconciler registering files after that is a no-op.
  auto sourceFiles = source::FileWatcher::create({[&manager](const std::string& key) {
    // The delay lets a writer finish (a key file written after its certificate file) and
    // coalesces the events of one replacement into one reconcile.
    manager.enqueue({key, std::chrono::milliseconds(100)});
  }});
  if (!sourceFiles) {
    std::cerr << "siteplane serve: " << sourceFiles.message() << "\n";
    (*dataPlane)->stop(std::chrono::milliseconds(0));
    return kExitFailure;
  }
  certs::ImportPathPolicyOptions importOptions{manifests, {}, {state}};
  for (const auto& root : options.importRoots)
    importOptions.importRoots.push_back(fs::absolute(root, ec));
  auto importPolicy = std::make_shared<const certs::ImportPathPolicy>(
      certs::ImportPathPolicy::create(importOptions));
  if (!addReconcilers({**store, **certificates, **dataPlane, manager, manifests, **sourceFiles,
                       importPolicy, state})) {
    std::cerr << "siteplane serve: two reconcilers registered for one kind\n";
    (*dataPlane)->stop(std::chrono::milliseconds(0));
    return kExitFailure;
  }
  if (Status started = (*source)->start(); !started) {
    std::cerr << "siteplane serve: " << started.message() << "\n";
    (*dataPlane)->stop(std::chrono::milliseconds(0));
    return kExitFailure;
  }
  manager.start(kControllerWorkers);

  monitoring::ServeMetrics serveMetrics(**dataPlane, manager, **store);
  std::unique_ptr<apiserver::ApiServer> api;
  if (options.apiListen != "off") {
    apiserver::ApiServerOptions apiOptions;
    apiOptions.listen = options.apiListen;
    apiOptions.stateDir = state;
    apiOptions.allowApiOverride = options.allowApiOverride;
    apiOptions.maxConnections = options.apiMaxConnections;
    apiOptions.maxConnectionsPerAddress = options.apiMaxConnectionsPerAddress;
    apiOptions.requestTimeout = std::chrono::seconds(options.apiRequestTimeoutSeconds);
    apiOptions.version = SITEPLANE_VERSION;
    // The store has loaded (the source synced it before the API starts); ready once the data plane
    // serves a first table. The compile pass publishes one at start even when nothing is declared.
    loop::DataPlane* plane = dataPlane->get();
    apiOptions.readyChecks = {{"binding-table", [plane] {
                                 return plane->currentTable()
                                            ? std::string()
                                            : std::string("no binding table is live yet");
                               }}};
    apiOptions.metrics = [&serveMetrics](metrics::ExpositionWriter& out) {
      return serveMetrics.write(out);
    };
    apiOptions.runtime = runtimeView(plane);
    auto created = apiserver::ApiServer::create(apiOptions, **store);
    Status started = created ? (*created)->start() : created.status();
    if (!started) {
      std::cerr << "siteplane serve: API server: " << started.message() << "\n";
      (*source)->stop();
      manager.stop();
      (*dataPlane)->stop(std::chrono::milliseconds(0));
      return kExitFailure;
    }
    api = std::move(created).value();
    log->info("api_listening url={} kubeconfig={}", api->url(), api->kubeconfigPath().string());
    std::cout << "siteplane: API at " << api->url() << "; kubectl --kubeconfig "
              << api->kubeconfigPath().string() << " get sites\n"
              << std::flush;
  }
  log->info("serve_started manifests={} state={} workers={} pid={}", manifests.string(),
            state.string(), (*dataPlane)->workers(), ::getpid());

  // Say how to try it once the first table is live (an empty one when nothing is declared).
  std::atomic<bool> stopping{false};
  std::thread hint([&dataPlane, &certificates, &stopping] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (stopping) return;
      if (auto table = (*dataPlane)->currentTable()) {
        printHowToTry(*table, **certificates, std::cout);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::cout << "siteplane: serving; no binding is programmed yet\n" << std::flush;
  });

  int signal = 0;
  for (;;) {
    if (sigwait(&stopSignals, &signal) != 0) continue;
    if (signal != SIGHUP) break;
    // What operators expect of `kill -HUP` (nginx's reload): read the manifests again now. Every
    // log line, the access log included, goes to stderr; there is no log file to reopen (a
    // supervisor or `2>>file` owns the file, and rotates it with copytruncate or its own reopen).
    log->info("serve_reload signal=SIGHUP manifests={}", manifests.string());
    (*source)->rescan();
  }
  log->info("serve_stopping signal={}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  stopping = true;
  hint.join();
  if (api) api->stop();
  // Stop the inputs first (no new work), then the reconcilers (a pass in flight finishes and
  // writes its status), then the data plane (stop accepting, drain). Every store write was
  // durable when it returned, so there is nothing left to flush.
  (*source)->stop();
  (*sourceFiles)->stop();
  manager.stop();
  (*dataPlane)->stop(std::chrono::milliseconds(static_cast<int64_t>(options.drainSeconds * 1000)));
  log->info("serve_stopped");
  return kExitOk;
}

}  // namespace

void registerServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand("serve", "Serve the sites declared in a manifest directory");
  command->add_option("--manifests", options->manifests, "Directory of manifest files (watched)")
      ->required();
  command
      ->add_option("--state", options->state,
                   "Directory for persistent state (objects, certificates)")
      ->required();
  command->add_option("--workers", options->workers, "Data plane worker threads (0: one per core)")
      ->capture_default_str();
  command
      ->add_option("--log-level", options->logLevel,
                   "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  command->add_option("--log-format", options->logFormat, "Log line format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->add_option("--access-log-format", options->accessLogFormat, "w3c, json or off")
      ->check(CLI::IsMember({"w3c", "json", "off"}))
      ->capture_default_str();
  command
      ->add_option("--drain-seconds", options->drainSeconds,
                   "How long connections may take to finish on shutdown")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  command
      ->add_option("--api-listen", options->apiListen,
                   "host:port of the Kubernetes-compatible API (loopback by default), or off")
      ->capture_default_str();
  command->add_flag("--allow-api-override", options->allowApiOverride,
                    "Let API writes change objects a manifest file declares (the file wins again "
                    "on its next change)");
  // Data-plane limits (the README's serve section has the table). Sizes take k/m suffixes
  // (16k = 16384); a value out of range is refused naming the flag.
  command
      ->add_option("--max-header-bytes", options->maxHeaderBytes,
                   "Request line + headers per request; above: 431")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(size_t{256}, size_t{16} << 20))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--header-timeout-seconds", options->headerTimeoutSeconds,
                   "A request must arrive whole within this of its first byte; else: 408")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--max-body-bytes", options->maxBodyBytes,
                   "Request body, declared or received; above: 413")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(size_t{0}, size_t{1} << 30))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--keep-alive-seconds", options->keepAliveSeconds,
                   "An idle keep-alive connection is closed after this")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--handshake-timeout-seconds", options->handshakeTimeoutSeconds,
                   "A TLS handshake must finish within this")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--max-connections-per-worker", options->maxConnectionsPerWorker,
                   "Open connections per worker; beyond, the worker stops accepting until one "
                   "closes")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--max-connections-per-address", options->maxConnectionsPerAddress,
                   "Open connections per client IP address across all workers; beyond, a new "
                   "one is reset at accept (0: unlimited)")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--binding-drain-seconds", options->bindingDrainSeconds,
                   "How long connections of a removed binding may take to finish their request")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group("Limits");
  // The API listener's own limits (its header and body sizes are kube-apiserver's, fixed).
  command
      ->add_option("--api-max-connections", options->apiMaxConnections,
                   "Open API connections in all; beyond, a new one is reset at accept")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--api-max-connections-per-address", options->apiMaxConnectionsPerAddress,
                   "Open API connections per client IP address (0: unlimited)")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--api-request-timeout-seconds", options->apiRequestTimeoutSeconds,
                   "An API request (head and body) must arrive whole within this of its first "
                   "byte; else: 408")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}))
      ->capture_default_str()
      ->group("Limits");
  command
      ->add_option("--import-root", options->importRoots,
                   "Directory objects may make serve read: Certificate spec.source files, "
                   "Site CRL files, and the roots of Sites created through the API (besides "
                   "the manifest directory); repeatable. Never the state directory")
      ->check(CLI::ExistingDirectory);
  command->callback([options] { setExitCode(serve(*options)); });
}

}  // namespace siteplane::cli
