#pragma once

// One client connection of the API server: TLS stream, HTTP/1.1 requests answered in order (each
// run by the RequestExecutor off the loop), and at most one watch, fed from store threads through
// a PipeSink and an async handle. Loop thread only, but for PipeSink::write.

#include <uv.h>

#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "common/event_loop/handle.h"
#include "controller/apiserver/api_server_impl.h"
#include "controller/apiserver/watch_stream.h"
#include "dataplane/http/request_parser.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::apiserver {

inline constexpr size_t kMaxHeaderBytes = 64 * 1024;

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

class ApiConnection final : public loop::StreamHandler, public tls::TlsSession::ContextSelector {
 public:
  ApiConnection(ApiServer::Impl& server, uint64_t id)
      : server_(server),
        stream_(server.loop(), *this, server.buffers_, id),
        parser_(kMaxHeaderBytes, server.options_.maxBodyBytes) {}

  void begin(uv_stream_t* listener);

  void shutdown();

  // A BOOKMARK for a watch that asked for them; the event reaches the loop through the sink.
  void bookmark();

  std::list<std::unique_ptr<ApiConnection>>::iterator position;

  std::shared_ptr<const tls::ServerContext> selectContext(std::string_view) noexcept override;

  size_t watchBacklog() const { return watch_ ? stream_.backlog() : 0; }
  void dropWatch(const char* reason);

  void onStreamOpen() noexcept override { stream_.setTimer(server_.options_.idleTimeout); }

  void onStreamData(const char* data, size_t length) noexcept override;

  void onStreamEnd() noexcept override;
  void onStreamDrained() noexcept override {}
  void onStreamTimeout() noexcept override;
  void onStreamHandshakeFailed(const std::string& reason) noexcept override;
  void onStreamClosed() noexcept override;

 private:
  static void onAsync(uv_async_t* async) noexcept;

  // Parses requests out of `data` until one goes to the handler; the rest waits in pending_.
  void consume(const char* data, size_t length);

  void endWatch();

  // Asks the handler about a request whose head has arrived, before its body is read; answers
  // and closes (the body is never read) when it is refused. True when refused.
  bool refuseBeforeBody();

  std::string remoteAddress() const;

  static Headers headersOf(const http::Request& raw);

  void failRequest(http::RequestParser::Error error);

  void refuseUpgrade();

  void writeResponse(const ApiResponse& response, bool keepAlive, bool head);

  // Hands the request to the executor; the connection reads nothing more until finish().
  void dispatch(const http::Request& raw);

  void finish(const ApiRequest& request, ApiReply reply, bool keepAlive);

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

}  // namespace siteplane::apiserver
