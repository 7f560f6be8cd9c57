#pragma once

// The API server as `siteplane serve` runs it: the ApiHandler served over HTTPS on its own libuv
// loop thread, with a serving certificate and bearer token siteplane issues for itself (kept in
// <state>/api/) and a kubeconfig written to <state>/kubeconfig, so that
//   kubectl --kubeconfig <state>/kubeconfig get bindings
// just works. The transport is the data plane's TLS stream (dataplane/loop Stream) and HTTP/1.1
// request parser (dataplane/http).
//
// Usage (from the serve command):
//   ApiServerOptions options;
//   options.listen = "127.0.0.1:6443";            // --api-listen; port 0 picks a free port
//   options.stateDir = stateDir;                  // --state
//   options.allowApiOverride = allowOverride;     // --allow-api-override
//   options.readyChecks = {{"table", [&] { return tableLive() ? "" : "no table yet"; }}};  //
//   /readyz options.metrics = [&](metrics::ExpositionWriter& out) { return addFamilies(out); };  //
//   /metrics auto server = ApiServer::create(std::move(options), store);   // credentials,
//   certificates if (!server) fail(server.message()); if (auto started = (*server)->start();
//   !started) fail(started.message());  // binds, kubeconfig
//   ...
//   (*server)->stop();                            // also done by the destructor
//
// The loop thread only moves bytes: each request's handler call runs on a small pool
// (RequestExecutor) with separate read and write lanes, so a store write waiting for its fsync or
// a large body being validated does not stop other clients (or /healthz) from being answered. One
// connection's requests are answered in the order they came (the next is read only after the
// previous is answered). Watches stream from store threads through a queue and uv_async_send.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "controller/apiserver/api_credentials.h"
#include "controller/apiserver/api_handler.h"
#include "controller/store/store.h"

namespace siteplane::apiserver {

struct ApiServerOptions {
  // host:port to listen on: "127.0.0.1:6443", "[::1]:6443", "localhost:0". Loopback by default;
  // anything else listens beyond this machine, which the operator must ask for.
  std::string listen = "127.0.0.1:6443";
  std::filesystem::path stateDir;
  // The health listener of Kubernetes mode (`--health-listen`), where the kubelet probes and
  // Prometheus scrapes: plain HTTP, no credentials and no kubeconfig, and only /healthz, /livez,
  // /readyz and /metrics are answered (everything else is 404). No state directory is needed.
  bool probesOnly = false;
  bool allowApiOverride = false;
  size_t maxBodyBytes = kDefaultMaxBodyBytes;
  std::vector<ReadyCheck> readyChecks;                        // see ApiHandlerOptions
  std::function<Status(metrics::ExpositionWriter&)> metrics;  // see ApiHandlerOptions
  RuntimeView runtime;  // /runtime/sslcert and /runtime/explain (see api_handler.h)
  std::string version = "0.0.0";
  // Credentials' validity (wallNow) and what the handler reads of time. Must outlive the server.
  const Clock* clock = &Clock::real();
  // A connection idle this long between requests is closed.
  std::chrono::seconds idleTimeout{120};
  // Threads that run handler calls, in two lanes: reads (GET, HEAD: lists, watches, health) and
  // writes (which wait for the store's fsync). Requests beyond this many wait in their lane.
  unsigned readThreads = 2;
  unsigned writeThreads = 2;
  // How often a watch that asked for allowWatchBookmarks gets a BOOKMARK event (Kubernetes sends
  // one about every minute).
  std::chrono::milliseconds bookmarkInterval{std::chrono::seconds(60)};
  // A watch whose client reads slower than events come is ended (the connection closed) once
  // this much output waits for it, instead of buffering without bound; the client watches again
  // from its last resourceVersion, as after Kubernetes drops a slow watcher.
  size_t maxWatchBacklogBytes = 16 * 1024 * 1024;
  // The same over every watch together: past it, the watch holding most output is ended.
  size_t maxWatchBacklogTotalBytes = 256 * 1024 * 1024;
  // A request not complete (head and body) this long after its first byte gets 408 and the
  // connection closes: a client cannot hold a connection by trickling a request.
  std::chrono::seconds requestTimeout{60};
  // Open connections, in all and of one client IP (0: unlimited). One more is reset as it is
  // accepted, before any TLS work. A request without the token is refused once its head is in,
  // before its body is read.
  size_t maxConnections = 4096;
  size_t maxConnectionsPerAddress = 0;
};

class ApiServer {
 public:
  // Loads the CRD registry and the credentials (creating token, CA and serving certificate on
  // first use). Fails naming what could not be read or written. Does not listen yet.
  static Result<std::unique_ptr<ApiServer>> create(ApiServerOptions options, store::Store& store);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the listen address (the error names it), writes <state>/kubeconfig and starts the
  // loop thread. Precondition: called once.
  Status start();
  // Closes the listener and every connection (ending watches) and joins the thread. Idempotent.
  void stop();

  // Valid after start(): the bound port and "https://127.0.0.1:PORT".
  int port() const;
  std::string url() const;
  std::filesystem::path kubeconfigPath() const;
  const ApiCredentials& credentials() const;
  ApiHandler& handler();

  class Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<ApiServer>> createProbesOnly(ApiServerOptions options,
                                                             store::Store& store);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siteplane::apiserver
