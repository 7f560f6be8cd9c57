#pragma once

// Inside the API server (api_server.cc, api_connection.cc): the state its loop and connections
// share. Not part of the module's interface; ApiServer is.

#include <sys/socket.h>
#include <uv.h>

#include <filesystem>
#include <list>
#include <memory>
#include <string>

#include "common/event_loop/event_loop_thread.h"
#include "controller/apiserver/api_credentials.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_server.h"
#include "controller/apiserver/request_executor.h"
#include "dataplane/loop/address_limiter.h"
#include "dataplane/loop/stream.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::apiserver {

struct ListenAddress {
  std::string host;  // as given, without brackets
  int port = 0;
  sockaddr_storage address{};
};

class ApiConnection;

class ApiConnection;

class ApiServer::Impl {
 public:
  Impl(ApiServerOptions options, store::Store& store, ResourceRegistry registry,
       ApiCredentials credentials, std::shared_ptr<const tls::ServerContext> context)
      : options_(std::move(options)),
        credentials_(std::move(credentials)),
        context_(std::move(context)),
        handler_(store, std::move(registry), handlerOptions(options_, credentials_)),
        addressLimiter_(options_.maxConnectionsPerAddress) {}

  ~Impl() { stop(); }

  static ApiHandlerOptions handlerOptions(const ApiServerOptions& options,
                                          const ApiCredentials& credentials) {
    ApiHandlerOptions out;
    out.token = credentials.token;
    out.probesOnly = options.probesOnly;
    out.allowApiOverride = options.allowApiOverride;
    out.maxBodyBytes = options.maxBodyBytes;
    out.readyChecks = options.readyChecks;
    out.metrics = options.metrics;
    out.runtime = options.runtime;
    out.version = options.version;
    out.clock = options.clock;
    return out;
  }

  Status start();
  void stop();
  void release(ApiConnection* connection);
  // Watch output waiting in every connection's send buffer, and the connection holding most.
  size_t watchBacklogTotal(ApiConnection** largest) const;

  ApiServerOptions options_;
  ApiCredentials credentials_;
  std::shared_ptr<const tls::ServerContext> context_;
  ApiHandler handler_;
  loop::AddressLimiter addressLimiter_;  // loop thread only, but shared-safe anyway
  std::string host_;
  int port_ = 0;
  std::filesystem::path kubeconfig_;

  // Declared before the loop's handles and connections, so that it outlives them.
  std::unique_ptr<event_loop::EventLoopThread> thread_;
  std::unique_ptr<RequestExecutor> executor_;  // on thread_'s loop
  event_loop::UvHandle<uv_tcp_t> listener_;
  event_loop::UvHandle<uv_timer_t> bookmarkTimer_;
  loop::StreamBuffers buffers_;
  bool started_ = false;
  bool stopped_ = false;
  uint64_t nextId_ = 1;
  std::list<std::unique_ptr<ApiConnection>> connections_;  // loop thread only
  uint64_t refusedConnections_ = 0;                        // loop thread only, for the log

  uv_loop_t* loop() { return thread_->loop(); }

 private:
  Status listen(const ListenAddress& address);
  // On the loop's thread (or before it runs): everything but the loop's own handle.
  void closeLoopHandles();
  // start() failed at `failure`: what it set up goes, before the thread ever ran.
  Status abandon(Status failure);
  static void onConnection(uv_stream_t* server, int status) noexcept;
  static void onBookmarkTimer(uv_timer_t* timer) noexcept;
};

}  // namespace siteplane::apiserver
