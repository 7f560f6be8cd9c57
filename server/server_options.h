#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/apiserver/api_server.h"
#include "dataplane/loop/data_plane.h"

namespace siteplane::server {

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
