#include "controller/apiserver/api_server.h"

#include <uv.h>

#include <algorithm>
#include <charconv>

#include "common/logging.h"
#include "controller/apiserver/api_connection.h"
#include "controller/apiserver/api_server_impl.h"
#include "controller/apiserver/embedded_crds.h"

namespace siteplane::apiserver {
namespace {

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

Result<ListenAddress> parseListen(const std::string& text) {
  ListenAddress out;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return Result<ListenAddress>::error("--api-listen \"" + text + "\" is not host:port");
  }
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, error] = std::from_chars(first, last, out.port);
  if (error != std::errc() || end != last || out.port < 0 || out.port > 65535) {
    return Result<ListenAddress>::error("--api-listen \"" + text + "\": the port must be 0..65535");
  }
  std::string ip = out.host == "localhost" || out.host.empty() ? "127.0.0.1" : out.host;
  if (uv_ip4_addr(ip.c_str(), out.port, reinterpret_cast<sockaddr_in*>(&out.address)) != 0 &&
      uv_ip6_addr(ip.c_str(), out.port, reinterpret_cast<sockaddr_in6*>(&out.address)) != 0) {
    return Result<ListenAddress>::error("--api-listen \"" + text +
                                        "\": the host must be an IP address or localhost");
  }
  if (out.host.empty()) out.host = "127.0.0.1";
  return out;
}

}  // namespace

void ApiServer::Impl::release(ApiConnection* connection) {
  connections_.erase(connection->position);
}

size_t ApiServer::Impl::watchBacklogTotal(ApiConnection** largest) const {
  size_t total = 0;
  size_t most = 0;
  for (const auto& connection : connections_) {
    size_t backlog = connection->watchBacklog();
    total += backlog;
    if (backlog > most) {
      most = backlog;
      *largest = connection.get();
    }
  }
  return total;
}

void ApiServer::Impl::onConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<Impl*>(server->data);
  if (status < 0) {
    log()->warn("api_accept_error error={}", uv_strerror(status));
    return;
  }
  auto connection = std::make_unique<ApiConnection>(*self, self->nextId_++);
  ApiConnection* raw = connection.get();
  self->connections_.push_front(std::move(connection));
  raw->position = self->connections_.begin();
  raw->begin(server);
}

void ApiServer::Impl::onBookmarkTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Impl*>(timer->data);
  for (auto& connection : self->connections_) connection->bookmark();
}

void ApiServer::Impl::closeLoopHandles() {
  listener_.close();
  bookmarkTimer_.close();
  if (executor_) executor_->stop();
  // shutdown() may release the connection (and erase it) later, from its close callback.
  for (auto it = connections_.begin(); it != connections_.end();) {
    ApiConnection* connection = (it++)->get();
    connection->shutdown();
  }
}

Status ApiServer::Impl::abandon(Status failure) {
  thread_->stop([this] { closeLoopHandles(); });  // not started: runs here
  return failure;
}

Status ApiServer::Impl::listen(const ListenAddress& address) {
  auto listener = event_loop::UvHandle<uv_tcp_t>::create(uv_tcp_init, loop(), this);
  if (!listener) return listener.status();
  listener_ = std::move(listener).value();
  int rc = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address.address), 0);
  if (rc == 0) rc = uv_listen(listener_.stream(), 128, &Impl::onConnection);
  if (rc != 0) return event_loop::uvError(options_.listen.c_str(), rc);
  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Status::ok();
}

Status ApiServer::Impl::start() {
  auto address = parseListen(options_.listen);
  if (!address) return address.status();
  host_ = address->host;
  auto thread = event_loop::EventLoopThread::create("api");
  if (!thread) return thread.status().withContext("API server");
  thread_ = std::move(thread).value();
  if (Status listening = listen(*address); !listening)
    return abandon(std::move(listening).withContext("API server cannot listen"));
  executor_ = std::make_unique<RequestExecutor>(loop());
  if (Status started = executor_->start(options_.readThreads, options_.writeThreads); !started)
    return abandon(std::move(started));
  auto timer = event_loop::UvHandle<uv_timer_t>::create(uv_timer_init, loop(), this);
  if (!timer) return abandon(timer.status().withContext("API server"));
  bookmarkTimer_ = std::move(timer).value();
  uint64_t interval =
      static_cast<uint64_t>(std::max<int64_t>(1, options_.bookmarkInterval.count()));
  uv_timer_start(bookmarkTimer_.get(), &Impl::onBookmarkTimer, interval, interval);

  std::string hostForUrl = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  if (!options_.probesOnly) {
    auto kubeconfig = writeKubeconfig(
        options_.stateDir, "https://" + hostForUrl + ":" + std::to_string(port_), credentials_);
    if (!kubeconfig) return abandon(kubeconfig.status());
    kubeconfig_ = *kubeconfig;
  }
  if (Status running = thread_->start(); !running) return abandon(std::move(running));
  started_ = true;
  if (options_.probesOnly) {
    log()->info("health_listening address={}:{}", hostForUrl, port_);
  } else {
    log()->info("api_listening address={}:{} kubeconfig={}", hostForUrl, port_,
                kubeconfig_.string());
  }
  return Status::ok();
}

void ApiServer::Impl::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  thread_->stop([this] { closeLoopHandles(); });
  log()->info("api_stopped");
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::create(ApiServerOptions options,
                                                     store::Store& store) {
  if (options.probesOnly) return createProbesOnly(std::move(options), store);
  if (options.stateDir.empty()) {
    return Result<std::unique_ptr<ApiServer>>::error("the API server needs a state directory");
  }
  auto registry = builtinResourceRegistry();
  if (!registry) return registry.status().withContext("loading the embedded CRDs");
  auto listen = parseListen(options.listen);
  if (!listen) return listen.status();
  auto credentials =
      ApiCredentials::loadOrCreate(options.stateDir, listen->host, options.clock->wallNow());
  if (!credentials) return credentials.status().withContext("API credentials");
  tls::ServerContextOptions tlsOptions;
  tlsOptions.name = "siteplane-api";
  tlsOptions.certificateChainPem = credentials->certificatePem;
  tlsOptions.privateKeyPem = credentials->privateKeyPem;
  auto context = tls::ServerContext::create(tlsOptions);
  if (!context) return context.status().withContext("API TLS context");
  auto impl = std::make_unique<Impl>(std::move(options), store, std::move(registry).value(),
                                     std::move(credentials).value(), std::move(context).value());
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

Result<std::unique_ptr<ApiServer>> ApiServer::createProbesOnly(ApiServerOptions options,
                                                               store::Store& store) {
  auto listen = parseListen(options.listen);
  if (!listen) return listen.status();
  auto impl = std::make_unique<Impl>(std::move(options), store, ResourceRegistry(),
                                     ApiCredentials{}, nullptr);
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

Status ApiServer::start() { return impl_->start(); }
void ApiServer::stop() { impl_->stop(); }
int ApiServer::port() const { return impl_->port_; }
std::string ApiServer::url() const {
  std::string host =
      impl_->host_.find(':') != std::string::npos ? "[" + impl_->host_ + "]" : impl_->host_;
  return "https://" + host + ":" + std::to_string(impl_->port_);
}
std::filesystem::path ApiServer::kubeconfigPath() const { return impl_->kubeconfig_; }
const ApiCredentials& ApiServer::credentials() const { return impl_->credentials_; }
ApiHandler& ApiServer::handler() { return impl_->handler_; }

}  // namespace siteplane::apiserver
