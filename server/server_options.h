#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/apiserver/api_server.h"
#include "controller/kube/kube_config.h"
#include "controller/kube/reflector.h"
#include "dataplane/loop/data_plane.h"

namespace siteplane::server {

// `serve --source kubernetes`: the cluster is the source of truth (server/README.md).
struct KubernetesOptions {
  kube::KubeConfig config;
  // Namespaces whose objects are served; empty: every namespace.
  std::vector<std::string> namespaces;
  // The leader Lease: its namespace (empty: the config's namespace, else "default"), name, and
  // this replica's holder identity.
  std::string leaseNamespace;
  std::string leaseName = "siteplane";
  std::string identity;
  // client-go's defaults (15 s, 10 s, 2 s); tests may shorten them.
  std::chrono::seconds leaseDuration{15};
  std::chrono::seconds renewDeadline{10};
  std::chrono::milliseconds retryPeriod{2000};
  // How long start() waits for the first lists before serving the local cache.
  std::chrono::milliseconds syncTimeout{std::chrono::seconds(30)};
  // Reflector backoff and watch timeouts (path and callbacks are the source's).
  kube::ReflectorOptions reflector;
};

// Everything a Server is made from: what `siteplane serve`'s flags say, or what an in-process
// test asks for.
struct ServerOptions {
  // The watched manifest directory and the state directory (objects, certificates, API
  // credentials); relative paths are made absolute, the state directory is created.
  std::filesystem::path manifests;
  std::filesystem::path state;
  // Workers, access log, limits and binding drain of the data plane.
  loop::DataPlaneOptions dataPlane;
  // The Kubernetes-compatible API; nullopt: none (`--api-listen off`). The server fills in
  // stateDir, readyChecks, metrics and runtime; the rest is the caller's (listen, limits,
  // version, allowApiOverride).
  std::optional<apiserver::ApiServerOptions> api;
  // Set: Kubernetes mode (the manifest directory is not read).
  std::optional<KubernetesOptions> kubernetes;
  // The plain-HTTP probes and metrics listener (host:port); empty: none.
  std::string healthListen;
  // Directories Certificates may import files from, besides the manifest directory (which only
  // objects declared by manifest files may).
  std::vector<std::filesystem::path> importRoots;
  // Reconcile threads. Most of a reconcile is waiting for a durable write, and the object store
  // and the certificate store commit the writes of concurrent reconcilers together, so more
  // threads than cores is what makes thousands of Certificates import in seconds rather than
  // minutes.
  unsigned controllerWorkers = 16;
  // The one clock of every controller part: store timestamps, work-queue timers, certificate
  // validity, renewal and issuance, the compile pass, Events, metrics and the API. Tests pass a
  // FakeClock and advance it; the data plane's per-request timers stay on its loops' time. Must
  // outlive the server.
  Clock* clock = &Clock::real();
};

}  // namespace siteplane::server
