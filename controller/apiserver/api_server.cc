#include "controller/apiserver/api_server.h"

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "common/event_loop/event_loop_thread.h"
#include "common/logging.h"
#include "controller/apiserver/embedded_crds.h"
#include "controller/apiserver/request_executor.h"
#include "dataplane/http/request_parser.h"
#include "dataplane/http/response.h"
#include "dataplane/loop/address_limiter.h"
#include "dataplane/loop/stream.h"
#include "dataplane/tls/server_context.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::apiserver {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

struct ListenAddress {
  std::string host;  // as given, without brackets
  int port = 0;
  sockaddr_storage address{};
};

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

// Hands watch events from store threads to the connection's loop.
class PipeSink final : public WatchSink {
 public:
  explicit PipeSink(uv_async_t* async) : async_(async) {}
  void write(std::string chunk) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    chunks_.push_back(std::move(chunk));
    uv_async_send(async_);
  }
  std::deque<std::string> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(chunks_, {});
  }
  // After close() no write touches the async handle, so the loop may close it.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    chunks_.clear();
  }

 private:
  std::mutex mutex_;  // guards everything below
  uv_async_t* async_;
  std::deque<std::string> chunks_;
  bool closed_ = false;
};

}  // namespace

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

// One client connection: TLS stream, HTTP/1.1 requests answered in order, and at most one watch
// (a watch response runs until the client goes away or its timeout ends it).
class ApiConnection final : public loop::StreamHandler, public tls::TlsSession::ContextSelector {
 public:
  ApiConnection(ApiServer::Impl& server, uint64_t id)
      : server_(server),
        stream_(server.loop(), *this, server.buffers_, id),
        parser_(kMaxHeaderBytes, server.options_.maxBodyBytes) {}

  void begin(uv_stream_t* listener) {
    if (auto accepted = stream_.accept(listener); !accepted) {
      log()->debug("[C{}] api_accept_failed error={}", stream_.id(), accepted.message());
      return;  // the stream closes itself; onStreamClosed releases us
    }
    // Before any TLS work, as the data plane does: a reset costs the client nothing and us no
    // handshake. connections_ already holds this one.
    bool overTotal = server_.connections_.size() > server_.options_.maxConnections;
    if (overTotal || !server_.addressLimiter_.acquire(stream_.peerAddress())) {
      if (server_.refusedConnections_++ % 1000 == 0) {
        log()->warn("[C{}] api_connection_refused peer={} reason={} refused_so_far={}",
                    stream_.id(), stream_.peerAddress(),
                    overTotal ? "total_limit" : "address_limit", server_.refusedConnections_);
      }
      stream_.close(loop::Stream::CloseMode::kAbort);
      return;
    }
    addressHeld_ = true;
    if (auto enabled = stream_.enableTls(server_.context_, *this); !enabled) {
      log()->warn("[C{}] api_tls_setup_failed error={}", stream_.id(), enabled.message());
      stream_.close(loop::Stream::CloseMode::kAbort);
      return;
    }
    stream_.setTimer(std::chrono::seconds(10));  // the handshake must not take longer
    stream_.start();
  }

  void shutdown() {
    endWatch();
    stream_.close(loop::Stream::CloseMode::kAbort);
  }

  // A BOOKMARK for a watch that asked for them; the event reaches the loop through the sink.
  void bookmark() {
    if (watch_) watch_->pushBookmark();
  }

  std::list<std::unique_ptr<ApiConnection>>::iterator position;

  std::shared_ptr<const tls::ServerContext> selectContext(std::string_view) noexcept override {
    return server_.context_;
  }

  size_t watchBacklog() const { return watch_ ? stream_.backlog() : 0; }
  void dropWatch(const char* reason) {
    log()->warn("[C{}] api_watch_too_slow peer={} backlog_bytes={} limit={}", stream_.id(),
                stream_.peerAddress(), stream_.backlog(), reason);
    endWatch();
    stream_.close(loop::Stream::CloseMode::kAbort);
  }

  void onStreamOpen() noexcept override { stream_.setTimer(server_.options_.idleTimeout); }

  void onStreamData(const char* data, size_t length) noexcept override {
    if (busy_) {
      // A request is with the handler: keep what follows (pipelining) for after its response,
      // and stop reading once a whole request's worth is waiting.
      pending_.append(data, length);
      if (pending_.size() > kMaxHeaderBytes + server_.options_.maxBodyBytes) stream_.pauseReading();
      return;
    }
    consume(data, length);
  }

  void onStreamEnd() noexcept override {
    if (busy_) {
      // The client finished sending but waits for its answer: close after finish().
      peerEnded_ = true;
      return;
    }
    endWatch();
    stream_.close(loop::Stream::CloseMode::kGraceful);
  }
  void onStreamDrained() noexcept override {}
  void onStreamTimeout() noexcept override {
    if (watch_) {
      // timeoutSeconds passed: end the chunked response cleanly, as Kubernetes does.
      endWatch();
      stream_.write("0\r\n\r\n");
    } else if (requestTimerArmed_ && !busy_) {
      // Part of a request came and the rest did not in time (slowloris, a stalled upload).
      ApiResponse response =
          ApiError::requestTimeout("the request was not complete within " +
                                   std::to_string(server_.options_.requestTimeout.count()) +
                                   " seconds of its first byte")
              .toResponse();
      log()->info("[C{}] api_bad_request peer={} code=408", stream_.id(), stream_.peerAddress());
      writeResponse(response, false, false);
    }
    stream_.close(loop::Stream::CloseMode::kGraceful);
  }
  void onStreamHandshakeFailed(const std::string& reason) noexcept override {
    log()->info("[C{}] api_handshake_failed peer={} reason={}", stream_.id(), stream_.peerAddress(),
                reason);
  }
  void onStreamClosed() noexcept override {
    endWatch();
    if (addressHeld_) server_.addressLimiter_.release(stream_.peerAddress());
    server_.release(this);
  }

 private:
  static void onAsync(uv_async_t* async) noexcept {
    auto* self = static_cast<ApiConnection*>(async->data);
    if (!self || !self->sink_) return;
    for (auto& chunk : self->sink_->take()) {
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      self->stream_.write(size);
      self->stream_.write(chunk);
      self->stream_.write("\r\n");
    }
    self->stream_.flush();
    if (self->stream_.backlog() > self->server_.options_.maxWatchBacklogBytes) {
      self->dropWatch("per_watch");
      return;
    }
    // Many slow watches, each under its own limit, could still hold gigabytes together: past
    // the total, the one holding most goes (it may be another connection than this one).
    ApiConnection* largest = nullptr;
    if (self->server_.watchBacklogTotal(&largest) >
            self->server_.options_.maxWatchBacklogTotalBytes &&
        largest) {
      largest->dropWatch("total");
    }
  }

  // Parses requests out of `data` until one goes to the handler; the rest waits in pending_.
  void consume(const char* data, size_t length) {
    // A watch response owns the connection until it ends; clients send nothing meanwhile.
    while (length > 0 && !watch_ && !stream_.closing()) {
      size_t used = parser_.feed(data, length);
      data += used;
      length -= used;
      if (parser_.error() != http::RequestParser::Error::kNone) {
        failRequest(parser_.error());
        return;
      }
      if (parser_.started() && !requestTimerArmed_) {
        requestTimerArmed_ = true;
        stream_.setTimer(server_.options_.requestTimeout);
      }
      if (parser_.headersComplete() && !parser_.complete() && !headChecked_) {
        // A body is still to come: refuse a request without the token before reading it.
        headChecked_ = true;
        if (refuseBeforeBody()) return;
      }
      if (!parser_.complete()) break;
      if (parser_.request().upgrade) {
        // http-parser leaves what follows an Upgrade or CONNECT head to "the other protocol"
        // (a body included); parsing it as more HTTP would answer bytes a proxy in front saw as
        // this request's body. Nothing here speaks another protocol: refuse, then close.
        refuseUpgrade();
        return;
      }
      dispatch(parser_.request());
      parser_.reset();
      headChecked_ = false;
      requestTimerArmed_ = false;
      if (busy_) {
        pending_.append(data, length);
        return;
      }
    }
  }

  void endWatch() {
    if (!watch_) return;
    // Stop the subscription first: after cancel() nothing writes to the sink.
    watch_->cancel();
    watch_.reset();
    sink_->close();
    sink_.reset();
    async_.close();
  }

  // Asks the handler about a request whose head has arrived, before its body is read; answers
  // and closes (the body is never read) when it is refused. True when refused.
  bool refuseBeforeBody() {
    ApiRequest head = ApiRequest::make(std::string(parser_.request().methodName),
                                       parser_.request().target, "", headersOf(parser_.request()));
    head.remoteAddress = remoteAddress();
    std::optional<ApiReply> refused = server_.handler_.refuseBeforeBody(head);
    if (!refused) return false;
    writeResponse(refused->response, false, head.method == "HEAD");
    stream_.close(loop::Stream::CloseMode::kGraceful);
    return true;
  }

  std::string remoteAddress() const {
    return std::string(stream_.peerAddress()) + ":" + std::to_string(stream_.peerPort());
  }

  static Headers headersOf(const http::Request& raw) {
    Headers headers;
    for (const auto& header : raw.headers) {
      std::string name(header.name);
      auto it = headers.find(name);
      // Repeated headers combine with commas, as HTTP allows for list-valued headers (Accept).
      if (it != headers.end()) {
        it->second += ", " + std::string(header.value);
      } else {
        headers.emplace(std::move(name), std::string(header.value));
      }
    }
    return headers;
  }

  void failRequest(http::RequestParser::Error error) {
    ApiError status =
        error == http::RequestParser::Error::kBodyTooLarge
            ? ApiError::requestEntityTooLarge("the request body is larger than " +
                                              std::to_string(server_.options_.maxBodyBytes) +
                                              " bytes")
        : error == http::RequestParser::Error::kHeaderTooLarge
            ? ApiError::headerFieldsTooLarge("the request headers are larger than " +
                                             std::to_string(kMaxHeaderBytes) + " bytes")
            : ApiError::badRequest("malformed HTTP request");
    ApiResponse response = status.toResponse();
    log()->info("[C{}] api_bad_request peer={} code={}", stream_.id(), stream_.peerAddress(),
                response.status);
    writeResponse(response, false, false);
    stream_.close(loop::Stream::CloseMode::kGraceful);
  }

  void refuseUpgrade() {
    ApiResponse response =
        ApiError::badRequest("protocol upgrades (Upgrade, CONNECT) are not served").toResponse();
    log()->info("[C{}] api_bad_request peer={} code={} reason=upgrade", stream_.id(),
                stream_.peerAddress(), response.status);
    writeResponse(response, false, false);
    stream_.close(loop::Stream::CloseMode::kGraceful);
  }

  void writeResponse(const ApiResponse& response, bool keepAlive, bool head) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      std::string(http::reasonPhrase(response.status)) +
                      "\r\nContent-Type: " + response.contentType +
                      "\r\nContent-Length: " + std::to_string(response.body.size()) +
                      "\r\nCache-Control: no-cache, private\r\n";
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
    if (!keepAlive) out += "Connection: close\r\n";
    out += "\r\n";
    stream_.write(out);
    if (!head) stream_.write(response.body);
  }

  // Hands the request to the executor; the connection reads nothing more until finish().
  void dispatch(const http::Request& raw) {
    auto request = std::make_shared<ApiRequest>(
        ApiRequest::make(std::string(raw.methodName), raw.target, raw.body, headersOf(raw)));
    request->remoteAddress = remoteAddress();
    bool keepAlive = raw.keepAlive;
    busy_ = true;
    // The handler's time is not the client's idleness.
    stream_.setTimer(std::chrono::milliseconds(0));
    ApiHandler* handler = &server_.handler_;
    // The completion runs on the loop thread, where the connection is also freed: `alive` tells
    // whether it still exists before `self` is touched.
    std::weak_ptr<void> alive = lifetime_;
    ApiConnection* self = this;
    auto lane = request->method == "GET" || request->method == "HEAD"
                    ? RequestExecutor::Lane::kRead
                    : RequestExecutor::Lane::kWrite;
    server_.executor_->submit(lane, [request, handler, alive, self, keepAlive] {
      auto reply = std::make_shared<ApiReply>(handler->handle(*request));
      return [request, reply, alive, self, keepAlive] {
        if (alive.expired()) {
          if (reply->watch) reply->watch->cancel();
          return;
        }
        self->finish(*request, std::move(*reply), keepAlive);
      };
    });
  }

  void finish(const ApiRequest& request, ApiReply reply, bool keepAlive) {
    busy_ = false;
    if (stream_.closing()) {
      if (reply.watch) reply.watch->cancel();
      return;
    }
    bool head = request.method == "HEAD";
    if (!reply.watch) {
      writeResponse(reply.response, keepAlive, head);
      if (!keepAlive) {
        stream_.close(loop::Stream::CloseMode::kGraceful);  // sends what is written first
        return;
      }
      stream_.setTimer(server_.options_.idleTimeout);
      // Requests that arrived meanwhile, in order; then reading resumes.
      std::string pending = std::exchange(pending_, {});
      consume(pending.data(), pending.size());
      if (!busy_ && peerEnded_) {
        stream_.close(loop::Stream::CloseMode::kGraceful);
        return;
      }
      if (!busy_ && !stream_.closing()) stream_.resumeReading();
      stream_.flush();
      return;
    }
    pending_.clear();
    stream_.resumeReading();
    std::string out = "HTTP/1.1 200 OK\r\nContent-Type: " + reply.response.contentType +
                      "\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache, private\r\n\r\n";
    stream_.write(out);
    auto async = event_loop::UvHandle<uv_async_t>::create(uv_async_init, server_.loop(), this,
                                                          &ApiConnection::onAsync);
    if (!async) {
      // Out of file descriptors for libuv's wake-up: the watch cannot be fed. End the response
      // at once; the client watches again.
      log()->warn("[C{}] api_watch_failed error=\"{}\"", stream_.id(), async.message());
      reply.watch->cancel();
      stream_.write("0\r\n\r\n");
      stream_.close(loop::Stream::CloseMode::kGraceful);
      return;
    }
    async_ = std::move(async).value();
    sink_ = std::make_shared<PipeSink>(async_.get());
    watch_ = reply.watch;
    // No idle timeout while watching; only the requested timeoutSeconds ends the response.
    stream_.setTimer(reply.watch->timeout());
    watch_->start(sink_);
    stream_.flush();
  }

  ApiServer::Impl& server_;
  loop::Stream stream_;
  http::RequestParser parser_;
  std::shared_ptr<WatchStream> watch_;
  std::shared_ptr<PipeSink> sink_;
  event_loop::UvHandle<uv_async_t> async_;  // feeds the watch's events to this loop
  bool busy_ = false;                       // a request is with the handler
  std::string pending_;                     // bytes received while busy_
  bool peerEnded_ = false;                  // the client's FIN came while busy_
  bool headChecked_ = false;                // this request's head went through refuseBeforeBody()
  bool requestTimerArmed_ = false;          // the timer runs for the request being received
  bool addressHeld_ = false;                // counted in the server's AddressLimiter
  std::shared_ptr<int> lifetime_ = std::make_shared<int>(0);  // see dispatch()
};

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
  auto kubeconfig = writeKubeconfig(
      options_.stateDir, "https://" + hostForUrl + ":" + std::to_string(port_), credentials_);
  if (!kubeconfig) return abandon(kubeconfig.status());
  kubeconfig_ = *kubeconfig;
  if (Status running = thread_->start(); !running) return abandon(std::move(running));
  started_ = true;
  log()->info("api_listening address={}:{} kubeconfig={}", hostForUrl, port_, kubeconfig_.string());
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
