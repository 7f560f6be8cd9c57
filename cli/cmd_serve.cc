#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/serve_hint.h"
#include "common/logging.h"
#include "common/names.h"
#include "controller/apiserver/api_server.h"
#include "controller/kube/kube_config.h"
#include "dataplane/loop/data_plane.h"
#include "server/server.h"

namespace siteplane::cli {
namespace {

struct ServeOptions {
  std::string source = "manifests";  // or "kubernetes"
  std::string manifests;
  std::string state;
  // Kubernetes mode.
  std::string kubeconfig;  // empty: in-cluster
  std::string context;
  std::vector<std::string> namespaces;
  std::string leaseName = "siteplane";
  std::string leaseNamespace;
  std::string healthListen;
  unsigned workers = 0;
  std::string logLevel = "info";
  std::string logFormat = "text";
  std::string accessLogFormat = "w3c";
  double drainSeconds = 10;
  std::string apiListen;  // "off": no API server; empty: 127.0.0.1:6443 in the embedded mode
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

loop::DataPlaneOptions dataPlaneOptions(const ServeOptions& options,
                                        http::AccessLogFormat accessLog) {
  loop::DataPlaneOptions plane;
  plane.workers = options.workers;
  plane.accessLog = accessLog;
  plane.limits.maxHeaderBytes = options.maxHeaderBytes;
  plane.limits.headerTimeout = milliseconds(options.headerTimeoutSeconds);
  plane.limits.maxBodyBytes = options.maxBodyBytes;
  plane.limits.keepAliveTimeout = milliseconds(options.keepAliveSeconds);
  plane.limits.handshakeTimeout = milliseconds(options.handshakeTimeoutSeconds);
  plane.limits.maxConnectionsPerWorker = options.maxConnectionsPerWorker;
  plane.limits.maxConnectionsPerAddress = options.maxConnectionsPerAddress;
  plane.drainTimeout = milliseconds(options.bindingDrainSeconds);
  return plane;
}

// Which flags go with which source; the error names the flag.
Status checkSourceFlags(const ServeOptions& options) {
  if (options.source == "manifests") {
    if (options.manifests.empty()) return Status::error("--manifests DIR is required");
    if (options.state.empty()) return Status::error("--state DIR is required");
    const std::pair<const char*, bool> kubernetesOnly[] = {
        {"--kubeconfig", !options.kubeconfig.empty()},
        {"--context", !options.context.empty()},
        {"--namespace", !options.namespaces.empty()},
        {"--lease-namespace", !options.leaseNamespace.empty()}};
    for (const auto& [flag, given] : kubernetesOnly) {
      if (given) return Status::error(std::string(flag) + " needs --source kubernetes");
    }
    return Status::ok();
  }
  if (!options.manifests.empty())
    return Status::error(
        "--manifests is not read with --source kubernetes: the cluster is the "
        "source of truth (kubectl apply -f DIR)");
  if (!options.apiListen.empty() && options.apiListen != "off")
    return Status::error(
        "--api-listen is not served with --source kubernetes: the cluster's API "
        "server is the API (probes and metrics: --health-listen)");
  if (!options.context.empty() && options.kubeconfig.empty())
    return Status::error("--context needs --kubeconfig");
  for (const auto& ns : options.namespaces) {
    if (!isDns1123Label(ns))
      return Status::error("--namespace \"" + ns + "\" is not a namespace name");
  }
  return Status::ok();
}

// Kubernetes mode's settings from the flags: the kubeconfig (or the pod's service account).
Result<server::KubernetesOptions> kubernetesOptions(const ServeOptions& options) {
  server::KubernetesOptions out;
  auto config = options.kubeconfig.empty()
                    ? kube::inClusterConfig()
                    : kube::loadKubeconfig(options.kubeconfig, options.context);
  if (!config) return config.status();
  out.config = std::move(config).value();
  out.namespaces = options.namespaces;
  out.leaseName = options.leaseName;
  out.leaseNamespace = options.leaseNamespace;
  return out;
}

// The state directory of Kubernetes mode without --state: a private one for this process, since
// the cluster holds everything that must survive it.
Result<std::string> privateStateDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/siteplane-state-XXXXXX";
  if (!mkdtemp(pattern.data()))
    return Status::error("cannot create a state directory under " + pattern + ": " +
                         std::strerror(errno));
  return pattern;
}

// The flags, as the server core's options.
Result<server::ServerOptions> serverOptions(const ServeOptions& options,
                                            http::AccessLogFormat accessLog) {
  if (Status flags = checkSourceFlags(options); !flags) return flags;
  server::ServerOptions out;
  out.manifests = options.manifests;
  out.state = options.state;
  out.dataPlane = dataPlaneOptions(options, accessLog);
  out.importRoots.assign(options.importRoots.begin(), options.importRoots.end());
  out.healthListen = options.healthListen;
  if (options.source == "kubernetes") {
    auto kubernetes = kubernetesOptions(options);
    if (!kubernetes) return kubernetes.status();
    out.kubernetes = std::move(kubernetes).value();
    if (out.state.empty()) {
      auto state = privateStateDir();
      if (!state) return state.status();
      out.state = *state;
    }
    return out;
  }
  if (options.apiListen != "off") {
    apiserver::ApiServerOptions api;
    api.listen = options.apiListen.empty() ? "127.0.0.1:6443" : options.apiListen;
    api.allowApiOverride = options.allowApiOverride;
    api.maxConnections = options.apiMaxConnections;
    api.maxConnectionsPerAddress = options.apiMaxConnectionsPerAddress;
    api.requestTimeout = std::chrono::seconds(options.apiRequestTimeoutSeconds);
    api.version = SITEPLANE_VERSION;
    out.api = std::move(api);
  }
  return out;
}

// The signals serve handles are blocked before any thread starts, so every thread inherits the
// mask and only the sigwait in waitForStop() receives them: SIGINT and SIGTERM stop, SIGHUP
// rescans.
sigset_t blockServeSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Rescans on every SIGHUP; returns the signal that asks to stop (SIGINT or SIGTERM).
int waitForStop(const sigset_t& signals, server::Server& server, spdlog::logger& log) {
  int signal = 0;
  for (;;) {
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal != SIGHUP) return signal;
    // What operators expect of `kill -HUP` (nginx's reload): read the manifests again now. Every
    // log line, the access log included, goes to stderr; there is no log file to reopen (a
    // supervisor or `2>>file` owns the file, and rotates it with copytruncate or its own reopen).
    log.info("serve_reload signal=SIGHUP manifests={}", server.manifestsDir().string());
    server.rescan();
  }
}

void announceApi(apiserver::ApiServer& api, spdlog::logger& log) {
  log.info("api_listening url={} kubeconfig={}", api.url(), api.kubeconfigPath().string());
  std::cout << "siteplane: API at " << api.url() << "; kubectl --kubeconfig "
            << api.kubeconfigPath().string() << " get sites\n"
            << std::flush;
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
  const sigset_t signals = blockServeSignals();

  auto settings = serverOptions(options, accessLog);
  if (!settings) {
    std::cerr << "siteplane serve: " << settings.message() << "\n";
    return kExitUsage;
  }
  auto created = server::Server::create(std::move(settings).value());
  if (!created) {
    std::cerr << "siteplane serve: " << created.message() << "\n";
    return kExitFailure;
  }
  server::Server& server = **created;
  if (Status started = server.start(); !started) {
    std::cerr << "siteplane serve: " << started.message() << "\n";
    return kExitFailure;
  }
  if (server.api()) announceApi(*server.api(), *log);
  log->info("serve_started source={} manifests={} state={} workers={} pid={}", options.source,
            server.manifestsDir().string(), server.stateDir().string(),
            server.dataPlane().workers(), ::getpid());

  // Say how to try it once the first table is live (an empty one when nothing is declared).
  std::atomic<bool> stopping{false};
  std::thread hint([&server, &stopping] {
    printHowToTryOnceLive(server.dataPlane(), server.certificates(), stopping);
  });

  int signal = waitForStop(signals, server, *log);
  log->info("serve_stopping signal={}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  stopping = true;
  hint.join();
  server.stop(milliseconds(options.drainSeconds));
  log->info("serve_stopped");
  if (options.source == "kubernetes" && options.state.empty()) {
    // The private cache holds private keys copied from Secrets: it goes with the process.
    std::filesystem::path cache = server.stateDir();
    created->reset();
    std::error_code ignored;
    std::filesystem::remove_all(cache, ignored);
  }
  return kExitOk;
}

}  // namespace

void registerServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand(
      "serve", "Serve the sites declared in a manifest directory or a Kubernetes cluster");
  command
      ->add_option("--source", options->source,
                   "Where objects come from: a manifest directory, or the Kubernetes API "
                   "(the chart's mode)")
      ->check(CLI::IsMember({"manifests", "kubernetes"}))
      ->capture_default_str();
  command->add_option("--manifests", options->manifests,
                      "Directory of manifest files (watched); required with --source manifests");
  command->add_option("--state", options->state,
                      "Directory for persistent state (objects, certificates); required with "
                      "--source manifests, a local cache with --source kubernetes");
  command
      ->add_option("--kubeconfig", options->kubeconfig,
                   "Kubeconfig of the cluster (--source kubernetes); default: the pod's service "
                   "account")
      ->check(CLI::ExistingFile)
      ->group("Kubernetes");
  command->add_option("--context", options->context, "Kubeconfig context (default: its current)")
      ->group("Kubernetes");
  command
      ->add_option("--namespace", options->namespaces,
                   "Namespace to serve; repeatable (default: every namespace)")
      ->group("Kubernetes");
  command->add_option("--lease-name", options->leaseName, "Name of the leader Lease")
      ->capture_default_str()
      ->group("Kubernetes");
  command
      ->add_option("--lease-namespace", options->leaseNamespace,
                   "Namespace of the leader Lease (default: the pod's or the context's)")
      ->group("Kubernetes");
  command
      ->add_option("--health-listen", options->healthListen,
                   "host:port of plain-HTTP /healthz, /readyz and /metrics (e.g. 0.0.0.0:8081)")
      ->group("Kubernetes");
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
  command->add_option(
      "--api-listen", options->apiListen,
      "host:port of the Kubernetes-compatible API (default 127.0.0.1:6443), or off; "
      "embedded mode only");
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
