#include "dataplane/loop/http_connection.h"

#include <iterator>

#include "common/logging.h"
#include "dataplane/http/response.h"
#include "dataplane/loop/worker.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::loop {
namespace {

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("dataplane.http");
  return instance;
}

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

}  // namespace

HttpConnection::HttpConnection(Worker& worker, std::shared_ptr<WorkerListener> listener, uint64_t id)
    : worker_(worker),
      listener_(std::move(listener)),
      stream_(worker.loop(), *this, worker.buffers(), id),
      parser_(worker.limits().maxHeaderBytes, worker.limits().maxBodyBytes) {}

void HttpConnection::begin(uv_stream_t* server) {
  counted_ = true;
  worker_.mutableStats().active.fetch_add(1, std::memory_order_relaxed);
  worker_.mutableStats().accepted.fetch_add(1, std::memory_order_relaxed);
  if (auto accepted = stream_.accept(server); !accepted) {
    log()->debug("[C{}] accept_failed error={}", stream_.id(), accepted.message());
    return;  // the stream closes itself and onStreamClosed releases us
  }
  const table::BindingTable* table = worker_.table().get();
  const table::Listener* listener = table ? table->findListener(listener_->key) : nullptr;
  if (!listener) {
    // Accepted in the instant between a swap that removed the listener and its handle closing.
    stream_.close(Stream::CloseMode::kAbort);
    return;
  }
  log()->trace("[C{}] accepted peer={}:{} local={}:{}", stream_.id(), stream_.peerAddress(),
               stream_.peerPort(), stream_.localAddress(), stream_.localPort());
  if (listener->protocol() == table::Protocol::kHttps) {
    // Start on the listener's default certificate (or any of its certificates): SSL_new needs a
    // context; the client hello callback moves the connection to the one its SNI selects.
    const table::Route* initial = listener->defaultRoute();
    if (!initial && !listener->routes().empty()) initial = &listener->routes().front();
    if (!initial || !initial->tls) {
      stream_.close(Stream::CloseMode::kAbort);
      return;
    }
    if (auto enabled = stream_.enableTls(initial->tls, *this); !enabled) {
      log()->warn("[C{}] tls_setup_failed error={}", stream_.id(), enabled.message());
      stream_.close(Stream::CloseMode::kAbort);
      return;
    }
    stream_.setTimer(worker_.limits().handshakeTimeout);
  }
  stream_.start();
}

std::shared_ptr<const tls::ServerContext> HttpConnection::selectContext(
    std::string_view serverName) noexcept {
  const table::BindingTable* table = worker_.table().get();
  if (!table) return nullptr;
  const table::Route* route = table->route(stream_.localAddress(), stream_.localPort(), serverName);
  if (!route) return nullptr;
  return route->tls;
}

void HttpConnection::onStreamOpen() noexcept {
  if (const auto* tls = stream_.tls()) {
    auto& stats = worker_.mutableStats();
    stats.handshakes.fetch_add(1, std::memory_order_relaxed);
    if (tls->resumed()) stats.resumed.fetch_add(1, std::memory_order_relaxed);
    log()->trace("[C{}] handshake_done sni={} version={} cipher={} resumed={}", stream_.id(),
                 tls->serverName(), tls->version(), tls->cipher(), tls->resumed());
  }
  armTimer();
}

void HttpConnection::armTimer() {
  if (stream_.closing()) return;
  if (parser_.started()) {
    // The whole request must arrive within headerTimeout of its first byte: trickling bytes does
    // not extend it (slowloris).
    if (!requestTimerArmed_) {
      requestTimerArmed_ = true;
      requestStart_ = uv_now(worker_.loop());
      stream_.setTimer(worker_.limits().headerTimeout);
    }
  } else {
    requestTimerArmed_ = false;
    stream_.setTimer(worker_.limits().keepAliveTimeout);
  }
}

void HttpConnection::onStreamData(const char* data, size_t length) noexcept {
  if (stream_.closing()) return;
  try {
    if (!pending_.empty()) {
      pending_.append(data, length);
      std::string buffered;
      buffered.swap(pending_);
      parse(buffered.data(), buffered.size());
    } else {
      parse(data, length);
    }
  } catch (...) {
    // Out of memory while buffering: this connection goes, the worker stays.
    stream_.close(Stream::CloseMode::kAbort);
  }
}

void HttpConnection::parse(const char* data, size_t length) {
  while (!stream_.closing()) {
    if (stream_.backlog() > Stream::kHighWatermark) {
      // The client is not reading its responses: keep its remaining requests for later and stop
      // reading until the output drains.
      pending_.append(data, length);
      stream_.pauseReading();
      stream_.notifyWhenDrained();
      return;
    }
    if (length == 0) break;
    size_t consumed = parser_.feed(data, length);
    data += consumed;
    length -= consumed;
    if (parser_.error() != http::RequestParser::Error::kNone) {
      respondToParseError();
      return;
    }
    if (!parser_.complete()) break;
    handleRequest();
    parser_.reset();
    requestTimerArmed_ = false;
  }
  armTimer();
}

void HttpConnection::onStreamDrained() noexcept {
  if (stream_.closing() || pending_.empty()) return;
  std::string buffered;
  buffered.swap(pending_);
  stream_.resumeReading();
  try {
    parse(buffered.data(), buffered.size());
  } catch (...) {
    stream_.close(Stream::CloseMode::kAbort);
  }
}

void HttpConnection::respondToParseError() {
  using Error = http::RequestParser::Error;
  const http::Request* request = parser_.headersComplete() ? &parser_.request() : nullptr;
  switch (parser_.error()) {
    case Error::kHeaderTooLarge:
      respond(nullptr, 431, 0, "Request Header Fields Too Large", {}, nullptr, false);
      break;
    case Error::kBodyTooLarge:
      respond(request, 413, 0, "Content Too Large - the request body exceeds the limit", {}, nullptr,
              false);
      break;
    default:
      respond(nullptr, 400, 0, "Bad Request", {}, nullptr, false);
      break;
  }
  log()->debug("[C{}] request_refused peer={} error={}", stream_.id(), stream_.peerAddress(),
               static_cast<int>(parser_.error()));
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::handleRequest() {
  const http::Request& request = parser_.request();
  const table::BindingTable* table = worker_.table().get();
  if (!table) {
    respond(&request, 503, 0, "Service Unavailable", {}, nullptr, false);
    stream_.close(Stream::CloseMode::kGraceful);
    return;
  }
  http::ConnectionFacts facts{stream_.localAddress(), stream_.localPort(), stream_.tls()};
  http::Decision decision = http::dispatch(*table, facts, request);
  const bool keepAlive = request.keepAlive && !closeAfterResponse_ && !worker_.stopping() &&
                         !request.upgrade && decision.status != 400;
  if (decision.route) lastRoute_ = decision.route;

  if (decision.serve()) {
    // Until static files are wired in, a served request gets a short page naming its site.
    const table::SitePolicy& site = *decision.route->site;
    fmt::basic_memory_buffer<char, 256> body;
    fmt::format_to(std::back_inserter(body), "siteplane site {} binding {}\n", site.name,
                   decision.route->binding);
    respond(&request, 200, 0, std::string_view(body.data(), body.size()), {}, decision.route,
            keepAlive);
  } else if (decision.status == 301) {
    fmt::basic_memory_buffer<char, 256> location;
    fmt::format_to(std::back_inserter(location), "Location: {}\r\n", decision.location);
    respond(&request, 301, 0, decision.message, std::string_view(location.data(), location.size()),
            decision.route, keepAlive);
  } else if (decision.status == 405) {
    respond(&request, 405, 0, decision.message, "Allow: GET, HEAD\r\n", decision.route, keepAlive);
  } else {
    respond(&request, decision.status, decision.substatus, decision.message, {}, decision.route,
            keepAlive);
  }
  if (!keepAlive) stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::respond(const http::Request* request, int status, int substatus,
                             std::string_view body, std::string_view extraHeaders,
                             const table::Route* route, bool keepAlive) {
  const bool head = request && request->method == HTTP_HEAD;
  // Error pages end with a newline so that terminals show them cleanly.
  const bool errorPage = status >= 300;
  http::ResponseHead responseHead;
  responseHead.status = status;
  responseHead.substatus = substatus;
  responseHead.contentType = kTextPlain;
  responseHead.contentLength = body.size() + (errorPage ? 1 : 0);
  responseHead.keepAlive = keepAlive;
  responseHead.http10 = request && request->versionMajor == 1 && request->versionMinor == 0;
  responseHead.extraHeaders = extraHeaders;
  http::HeadBuffer out;
  http::formatHead(out, responseHead, worker_.date().now());
  if (!head) {
    out.append(body);
    if (errorPage) out.push_back('\n');
  }
  stream_.write(out.data(), out.size());

  const std::string& siteName = route ? route->site->name : std::string();
  worker_.mutableStats().requests.fetch_add(1, std::memory_order_relaxed);
  worker_.mutableStats().countRequest(siteName, status);
  const http::AccessLog& accessLog = worker_.accessLog();
  if (!accessLog.enabled()) return;
  http::AccessRecord record;
  record.time = std::chrono::system_clock::now();
  record.serverIp = stream_.localAddress();
  record.serverPort = stream_.localPort();
  record.clientIp = stream_.peerAddress();
  if (request) {
    record.method = request->methodName;
    record.uriStem = request->path;
    record.uriQuery = request->query;
    record.host = request->host;
  }
  record.status = status;
  record.substatus = substatus;
  record.bytes = out.size();
  uint64_t now = uv_now(worker_.loop());
  record.timeTakenMs = requestTimerArmed_ && now >= requestStart_ ? now - requestStart_ : 0;
  std::string subject;
  if (const auto* tls = stream_.tls()) {
    record.tlsVersion = tls->version();
    record.tlsCipher = tls->cipher();
    record.sni = tls->serverName();
    if (route && route->site->clientCertificate != table::ClientCertificateMode::kIgnore &&
        tls->clientCertificate() == tls::TlsSession::ClientCertificateState::kValid) {
      subject = tls->clientSubject();
      record.clientSubject = subject;
    }
  }
  record.site = siteName;
  accessLog.write(record);
}

void HttpConnection::onStreamEnd() noexcept {
  // The client sent everything it will send. Requests already complete were answered in order; a
  // half-received one can never complete.
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onStreamTimeout() noexcept {
  if (parser_.started()) {
    log()->debug("[C{}] request_timeout peer={}", stream_.id(), stream_.peerAddress());
    respond(nullptr, 408, 0, "Request Timeout", {}, nullptr, false);
  } else {
    log()->trace("[C{}] keepalive_timeout", stream_.id());
  }
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onStreamHandshakeFailed(const std::string& reason) noexcept {
  worker_.mutableStats().countHandshakeFailure(reason);
}

void HttpConnection::drain(uint64_t deadlineMs) {
  if (stream_.closing()) return;
  closeAfterResponse_ = true;
  if (drainDeadline_ == 0 || deadlineMs < drainDeadline_) drainDeadline_ = deadlineMs;
  worker_.scheduleDrainDeadline(drainDeadline_);
  if (idle()) stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onTableSwapped(const table::BindingTable& next) {
  if (!lastRoute_ || stream_.closing()) return;
  // The binding this connection last served, looked up by its declared host name: the same
  // binding name means it survived the swap (perhaps with a new certificate or site settings).
  const table::Route* same = next.route(stream_.localAddress(), stream_.localPort(), lastRoute_->hostName);
  if (same && same->binding == lastRoute_->binding) {
    lastRoute_ = same;
    return;
  }
  lastRoute_ = nullptr;
  log()->debug("[C{}] binding_removed draining", stream_.id());
  drain(uv_now(worker_.loop()) + static_cast<uint64_t>(worker_.drainTimeout().count()));
}

void HttpConnection::onStreamClosed() noexcept {
  if (counted_) worker_.mutableStats().active.fetch_sub(1, std::memory_order_relaxed);
  log()->trace("[C{}] closed", stream_.id());
  worker_.release(this);
}

}  // namespace siteplane::loop
