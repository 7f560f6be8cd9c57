#include "controller/apiserver/api_connection.h"

#include <cstdio>
#include <utility>

#include "common/logging.h"
#include "dataplane/http/response.h"

namespace siteplane::apiserver {
namespace {

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

}  // namespace

void ApiConnection::begin(uv_stream_t* listener) {
  if (auto accepted = stream_.accept(listener); !accepted) {
    log()->debug("[C{}] api_accept_failed error={}", stream_.id(), accepted.message());
    return;  // the stream closes itself; onStreamClosed releases us
  }
  // Before any TLS work, as the data plane does: a reset costs the client nothing and us no
  // handshake. connections_ already holds this one.
  bool overTotal = server_.connections_.size() > server_.options_.maxConnections;
  if (overTotal || !server_.addressLimiter_.acquire(stream_.peerAddress())) {
    if (server_.refusedConnections_++ % 1000 == 0) {
      log()->warn("[C{}] api_connection_refused peer={} reason={} refused_so_far={}", stream_.id(),
                  stream_.peerAddress(), overTotal ? "total_limit" : "address_limit",
                  server_.refusedConnections_);
    }
    stream_.close(loop::Stream::CloseMode::kAbort);
    return;
  }
  addressHeld_ = true;
  // No context: the probes-only listener, plain HTTP.
  if (server_.context_) {
    if (auto enabled = stream_.enableTls(server_.context_, *this); !enabled) {
      log()->warn("[C{}] api_tls_setup_failed error={}", stream_.id(), enabled.message());
      stream_.close(loop::Stream::CloseMode::kAbort);
      return;
    }
  }
  stream_.setTimer(std::chrono::seconds(10));  // the handshake must not take longer
  stream_.start();
}

void ApiConnection::shutdown() {
  endWatch();
  stream_.close(loop::Stream::CloseMode::kAbort);
}

void ApiConnection::bookmark() {
  if (watch_) watch_->pushBookmark();
}

std::shared_ptr<const tls::ServerContext> ApiConnection::selectContext(std::string_view) noexcept {
  return server_.context_;
}

void ApiConnection::dropWatch(const char* reason) {
  log()->warn("[C{}] api_watch_too_slow peer={} backlog_bytes={} limit={}", stream_.id(),
              stream_.peerAddress(), stream_.backlog(), reason);
  endWatch();
  stream_.close(loop::Stream::CloseMode::kAbort);
}

void ApiConnection::onStreamData(const char* data, size_t length) noexcept {
  if (busy_) {
    // A request is with the handler: keep what follows (pipelining) for after its response,
    // and stop reading once a whole request's worth is waiting.
    pending_.append(data, length);
    if (pending_.size() > kMaxHeaderBytes + server_.options_.maxBodyBytes) stream_.pauseReading();
    return;
  }
  consume(data, length);
}

void ApiConnection::onStreamEnd() noexcept {
  if (busy_) {
    // The client finished sending but waits for its answer: close after finish().
    peerEnded_ = true;
    return;
  }
  endWatch();
  stream_.close(loop::Stream::CloseMode::kGraceful);
}

void ApiConnection::onStreamTimeout() noexcept {
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

void ApiConnection::onStreamHandshakeFailed(const std::string& reason) noexcept {
  log()->info("[C{}] api_handshake_failed peer={} reason={}", stream_.id(), stream_.peerAddress(),
              reason);
}

void ApiConnection::onStreamClosed() noexcept {
  endWatch();
  if (addressHeld_) server_.addressLimiter_.release(stream_.peerAddress());
  server_.release(this);
}

void ApiConnection::onAsync(uv_async_t* async) noexcept {
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

void ApiConnection::consume(const char* data, size_t length) {
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

void ApiConnection::endWatch() {
  if (!watch_) return;
  // Stop the subscription first: after cancel() nothing writes to the sink.
  watch_->cancel();
  watch_.reset();
  sink_->close();
  sink_.reset();
  async_.close();
}

bool ApiConnection::refuseBeforeBody() {
  ApiRequest head = ApiRequest::make(std::string(parser_.request().methodName),
                                     parser_.request().target, "", headersOf(parser_.request()));
  head.remoteAddress = remoteAddress();
  std::optional<ApiReply> refused = server_.handler_.refuseBeforeBody(head);
  if (!refused) return false;
  writeResponse(refused->response, false, head.method == "HEAD");
  stream_.close(loop::Stream::CloseMode::kGraceful);
  return true;
}

std::string ApiConnection::remoteAddress() const {
  return std::string(stream_.peerAddress()) + ":" + std::to_string(stream_.peerPort());
}

Headers ApiConnection::headersOf(const http::Request& raw) {
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

void ApiConnection::failRequest(http::RequestParser::Error error) {
  ApiError status = error == http::RequestParser::Error::kBodyTooLarge
                        ? ApiError::requestEntityTooLarge(
                              "the request body is larger than " +
                              std::to_string(server_.options_.maxBodyBytes) + " bytes")
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

void ApiConnection::refuseUpgrade() {
  ApiResponse response =
      ApiError::badRequest("protocol upgrades (Upgrade, CONNECT) are not served").toResponse();
  log()->info("[C{}] api_bad_request peer={} code={} reason=upgrade", stream_.id(),
              stream_.peerAddress(), response.status);
  writeResponse(response, false, false);
  stream_.close(loop::Stream::CloseMode::kGraceful);
}

void ApiConnection::writeResponse(const ApiResponse& response, bool keepAlive, bool head) {
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

void ApiConnection::dispatch(const http::Request& raw) {
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
  auto lane = request->method == "GET" || request->method == "HEAD" ? RequestExecutor::Lane::kRead
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

void ApiConnection::finish(const ApiRequest& request, ApiReply reply, bool keepAlive) {
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

}  // namespace siteplane::apiserver
