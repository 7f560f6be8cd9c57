#include "dataplane/loop/http_connection.h"

#include <iterator>

#include "common/logging.h"
#include "dataplane/http/response.h"
#include "dataplane/loop/address_limiter.h"
#include "dataplane/loop/worker.h"
#include "dataplane/tls/handshake_failure.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::loop {
namespace {

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("dataplane.http");
  return instance;
}

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

}  // namespace

HttpConnection::HttpConnection(Worker& worker, std::shared_ptr<WorkerListener> listener,
                               uint64_t id)
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
  if (!worker_.addressLimiter().acquire(stream_.peerAddress())) {
    // Before any TLS or HTTP work: a reset costs the client nothing to retry later and costs us
    // no TIME_WAIT; an HTTP 503 would need a handshake and a request first.
    worker_.mutableStats().refused.fetch_add(1, std::memory_order_relaxed);
    log()->debug("[C{}] connection_refused peer={} reason=address_limit limit={}", stream_.id(),
                 stream_.peerAddress(), worker_.addressLimiter().limit());
    stream_.close(Stream::CloseMode::kAbort);
    return;
  }
  addressHeld_ = true;
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
  const table::BindingTable* table = drainTable_ ? drainTable_.get() : worker_.table().get();
  if (!table) return nullptr;
  const table::Route* route =
      table->handshakeRoute(stream_.localAddress(), stream_.localPort(), serverName);
  return route ? route->tls : nullptr;
}

std::shared_ptr<const tls::ServerContext> HttpConnection::selectAcmeChallengeContext(
    std::string_view serverName) noexcept {
  const table::ChallengeAnswers* challenges = worker_.challenges();
  if (!challenges || serverName.empty()) return nullptr;
  try {
    return challenges->tlsAlpn01(serverName);
  } catch (const std::exception&) {
    return nullptr;  // out of memory copying the name: an ordinary handshake
  }
}

void HttpConnection::onStreamOpen() noexcept {
  if (const auto* tls = stream_.tls(); tls && tls->acmeChallenge()) {
    // RFC 8737 §3: the validation is the handshake itself; nothing follows it.
    log()->debug("[C{}] acme_tls_alpn01_answered sni={} peer={}", stream_.id(), tls->serverName(),
                 stream_.peerAddress());
    stream_.close(Stream::CloseMode::kGraceful);
    return;
  }
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
      setDeadline(worker_.limits().headerTimeout);
    }
  } else {
    requestTimerArmed_ = false;
    setDeadline(worker_.limits().keepAliveTimeout);
  }
}

void HttpConnection::setDeadline(std::chrono::milliseconds timeout) {
  const uint64_t now = uv_now(worker_.loop());
  deadline_ = now + static_cast<uint64_t>(timeout.count());
  if (timerArmedFor_ != 0 && timerArmedFor_ <= deadline_) return;
  timerArmedFor_ = deadline_;
  stream_.setTimer(timeout);
}

void HttpConnection::onStreamData(const char* data, size_t length) noexcept {
  if (stream_.closing()) return;
  try {
    if (responding_) {
      // Pipelined requests behind a response still streaming wait their turn; stop reading so a
      // client cannot queue unbounded input.
      pending_.append(data, length);
      stream_.pauseReading();
    } else if (!pending_.empty()) {
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
    if (responding_ || stream_.backlog() > Stream::kHighWatermark) {
      // A file is still streaming, or the client is not reading its responses: keep the rest of
      // its requests for later and stop reading until the output drains.
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
  }
  armTimer();
}

void HttpConnection::onStreamDrained() noexcept {
  if (stream_.closing()) return;
  try {
    if (responding_) {
      continueBody();
      if (responding_) return;
    }
    if (pending_.empty()) {
      if (peerEnded_) {
        stream_.close(Stream::CloseMode::kGraceful);
      } else {
        stream_.resumeReading();
      }
      return;
    }
    std::string buffered;
    buffered.swap(pending_);
    if (!peerEnded_) stream_.resumeReading();
    parse(buffered.data(), buffered.size());
    if (peerEnded_ && pending_.empty() && !responding_) stream_.close(Stream::CloseMode::kGraceful);
  } catch (...) {
    stream_.close(Stream::CloseMode::kAbort);
  }
}

void HttpConnection::respondToParseError() {
  using Error = http::RequestParser::Error;
  const http::Request* request = parser_.headersComplete() ? &parser_.request() : nullptr;
  keepAlive_ = false;
  switch (parser_.error()) {
    case Error::kHeaderTooLarge:
      respond(nullptr, 431, 0, "Request Header Fields Too Large", {}, nullptr);
      break;
    case Error::kBodyTooLarge:
      respond(request, 413, 0, "Content Too Large - the request body exceeds the limit", {},
              nullptr);
      break;
    default:
      respond(nullptr, 400, 0, "Bad Request", {}, nullptr);
      break;
  }
  log()->debug("[C{}] request_refused peer={} error={}", stream_.id(), stream_.peerAddress(),
               static_cast<int>(parser_.error()));
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::handleRequest() {
  const http::Request& request = parser_.request();
  const table::BindingTable* table = drainTable_ ? drainTable_.get() : worker_.table().get();
  if (!table) {
    keepAlive_ = false;
    respond(&request, 503, 0, "Service Unavailable", {}, nullptr);
    finishResponse();
    return;
  }
  const tls::TlsSession* session = stream_.tls();
  http::TlsFacts tlsFacts;
  if (session) tlsFacts = http::tlsFactsOf(*session);
  http::ConnectionFacts facts{stream_.localAddress(), stream_.localPort(),
                              session ? &tlsFacts : nullptr};
  if (answerAcmeChallenge(request)) return;
  http::Decision decision = http::dispatch(*table, facts, request);
  keepAlive_ = request.keepAlive && !closeAfterResponse_ && !worker_.stopping() &&
               !request.upgrade && decision.status != 400;
  if (decision.route) lastRoute_ = decision.route;

  if (decision.serve()) {
    serveStatic(request, decision);
  } else if (decision.status == 301) {
    fmt::basic_memory_buffer<char, 256> location;
    fmt::format_to(std::back_inserter(location), "Location: {}\r\n", decision.location);
    respond(&request, 301, 0, decision.message, std::string_view(location.data(), location.size()),
            decision.route);
  } else if (decision.status == 405) {
    respond(&request, 405, 0, decision.message, "Allow: GET, HEAD\r\n", decision.route);
  } else {
    respond(&request, decision.status, decision.substatus, decision.message, {}, decision.route);
  }
  if (!responding_) finishResponse();
}

bool HttpConnection::answerAcmeChallenge(const http::Request& request) {
  const table::ChallengeAnswers* challenges = worker_.challenges();
  if (!challenges || (request.method != HTTP_GET && request.method != HTTP_HEAD) ||
      request.path.substr(0, table::kAcmeChallengePath.size()) != table::kAcmeChallengePath)
    return false;
  auto answer =
      challenges->http01(request.host, request.path.substr(table::kAcmeChallengePath.size()));
  if (!answer) return false;
  keepAlive_ = request.keepAlive && !closeAfterResponse_ && !worker_.stopping();
  log()->debug("[C{}] acme_http01_answered host={} peer={}", stream_.id(), request.host,
               stream_.peerAddress());
  respond(&request, 200, 0, *answer, {}, nullptr);
  if (!responding_) finishResponse();
  return true;
}

void HttpConnection::serveStatic(const http::Request& request, const http::Decision& decision) {
  staticfiles::StaticRequest query;
  query.method = request.methodName;
  query.target = request.path;
  query.ifNoneMatch = request.header("if-none-match");
  query.ifModifiedSince = request.header("if-modified-since");
  query.range = request.header("range");
  query.ifRange = request.header("if-range");
  query.ifMatch = request.header("if-match");
  query.ifUnmodifiedSince = request.header("if-unmodified-since");
  staticfiles::StaticResponse response =
      worker_.staticHandler().handle(query, decision.route->site->root);

  std::string& headers = worker_.headerScratch();
  headers.clear();
  response.appendHeaders(headers);
  const int status = response.status;
  if (status == 200 || status == 206 || status == 304) {
    size_t headBytes = writeHead(&request, status, 0, {}, 0, headers, true);
    uint64_t bodyBytes = response.sendBody ? response.length : 0;
    record(&request, status, 0, decision.route, headBytes + bodyBytes);
    if (bodyBytes > 0) {
      body_ = std::move(response.file);
      bodyOffset_ = response.offset;
      bodyRemaining_ = bodyBytes;
      responding_ = true;
      continueBody();
    }
    return;
  }
  if (status == 301) {
    // A directory without its trailing slash: the static module gives the path, the query is ours.
    headers.append("Location: ").append(response.location);
    if (!request.query.empty()) headers.append("?").append(request.query);
    headers.append("\r\n");
    respond(&request, 301, 0, "Moved Permanently", headers, decision.route);
    return;
  }
  std::string_view message = http::reasonPhrase(status);
  respond(&request, status, 0, message, headers, decision.route);
}

void HttpConnection::continueBody() {
  auto& buffer = worker_.fileBuffer();
  while (bodyRemaining_ > 0 && !stream_.closing()) {
    if (stream_.backlog() >= Stream::kHighWatermark) {
      stream_.notifyWhenDrained();
      // Progress restarts the clock: only a client that stops reading for keepAliveTimeout is cut.
      setDeadline(worker_.limits().keepAliveTimeout);
      return;
    }
    if (body_->inMemory()) {
      std::string_view contents = body_->contents();
      if (bodyOffset_ + bodyRemaining_ > contents.size()) {
        stream_.close(Stream::CloseMode::kAbort);
        return;
      }
      stream_.write(contents.data() + bodyOffset_, static_cast<size_t>(bodyRemaining_));
      bodyOffset_ += bodyRemaining_;
      bodyRemaining_ = 0;
      break;
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(bodyRemaining_, buffer.size()));
    auto read = body_->read(bodyOffset_, buffer.data(), want);
    if (!read || *read == 0) {
      // The file shrank on disk after Content-Length went out: the only honest end is an abort.
      log()->warn("[C{}] file_read_failed error={}", stream_.id(),
                  read ? std::string("truncated") : read.message());
      stream_.close(Stream::CloseMode::kAbort);
      return;
    }
    stream_.write(buffer.data(), *read);
    bodyOffset_ += *read;
    bodyRemaining_ -= *read;
  }
  if (bodyRemaining_ == 0 && responding_) {
    responding_ = false;
    body_.reset();
    finishResponse();
  }
}

void HttpConnection::finishResponse() {
  parser_.reset();
  requestTimerArmed_ = false;
  if (!keepAlive_ || (peerEnded_ && pending_.empty())) {
    stream_.close(Stream::CloseMode::kGraceful);
    return;
  }
  armTimer();
  // Pipelined requests that waited for this response go next (from onStreamDrained, so that the
  // stack does not grow with the pipeline depth).
  if (!pending_.empty()) stream_.notifyWhenDrained();
}

size_t HttpConnection::writeHead(const http::Request* request, int status, int substatus,
                                 std::string_view contentType, size_t contentLength,
                                 std::string_view extraHeaders, bool framingInExtra) {
  http::ResponseHead head;
  head.status = status;
  head.substatus = substatus;
  head.contentType = contentType;
  head.contentLength = contentLength;
  head.keepAlive = keepAlive_;
  head.http10 = request && request->versionMajor == 1 && request->versionMinor == 0;
  head.extraHeaders = extraHeaders;
  head.framingInExtra = framingInExtra;
  http::HeadBuffer out;
  http::formatHead(out, head, worker_.date().now());
  stream_.write(out.data(), out.size());
  return out.size();
}

void HttpConnection::respond(const http::Request* request, int status, int substatus,
                             std::string_view body, std::string_view extraHeaders,
                             const table::Route* route) {
  const bool head = request && request->method == HTTP_HEAD;
  // Error pages end with a newline so that terminals show them cleanly.
  size_t headBytes =
      writeHead(request, status, substatus, kTextPlain, body.size() + 1, extraHeaders, false);
  size_t bodyBytes = 0;
  if (!head) {
    stream_.write(body);
    stream_.write("\n", 1);
    bodyBytes = body.size() + 1;
  }
  record(request, status, substatus, route, headBytes + bodyBytes);
}

void HttpConnection::record(const http::Request* request, int status, int substatus,
                            const table::Route* route, uint64_t bytes) {
  static const std::string kNoSite;
  const std::string& siteName = route ? route->site->name : kNoSite;
  worker_.mutableStats().requests.fetch_add(1, std::memory_order_relaxed);
  worker_.mutableStats().countRequest(siteName, status);
  const http::AccessLog& accessLog = worker_.accessLog();
  if (!accessLog.enabled()) return;
  http::AccessRecord entry;
  entry.time = std::chrono::system_clock::now();
  entry.serverIp = stream_.localAddress();
  entry.serverPort = stream_.localPort();
  entry.clientIp = stream_.peerAddress();
  if (request) {
    entry.method = request->methodName;
    entry.uriStem = request->path;
    entry.uriQuery = request->query;
    entry.host = request->host;
  }
  entry.status = status;
  entry.substatus = substatus;
  entry.bytes = bytes;
  uint64_t now = uv_now(worker_.loop());
  entry.timeTakenMs = requestTimerArmed_ && now >= requestStart_ ? now - requestStart_ : 0;
  std::string subject;
  if (const auto* tls = stream_.tls()) {
    entry.tlsVersion = tls->version();
    entry.tlsCipher = tls->cipher();
    entry.sni = tls->serverName();
    if (route && route->site->clientCertificate != table::ClientCertificateMode::kIgnore &&
        tls->clientCertificateFor(route->tls) == tls::ClientCertificateState::kValid) {
      subject = tls->clientSubject();
      entry.clientSubject = subject;
    }
  }
  entry.site = siteName;
  accessLog.write(entry);
}

void HttpConnection::onStreamEnd() noexcept {
  // The client sent everything it will send (e.g. a pipeline followed by shutdown(SHUT_WR)).
  // Complete requests still waiting or streaming are answered first; a half-received request can
  // never complete.
  peerEnded_ = true;
  if (responding_ || !pending_.empty()) return;
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onStreamTimeout() noexcept {
  timerArmedFor_ = 0;
  const uint64_t now = uv_now(worker_.loop());
  if (now < deadline_) {
    // The deadline moved later since the timer was armed: sleep the rest.
    timerArmedFor_ = deadline_;
    stream_.setTimer(std::chrono::milliseconds(deadline_ - now));
    return;
  }
  if (responding_) {
    log()->debug("[C{}] send_timeout peer={}", stream_.id(), stream_.peerAddress());
    stream_.close(Stream::CloseMode::kAbort);
    return;
  }
  if (parser_.started()) {
    log()->debug("[C{}] request_timeout peer={}", stream_.id(), stream_.peerAddress());
    keepAlive_ = false;
    respond(nullptr, 408, 0, "Request Timeout", {}, nullptr);
  } else {
    log()->trace("[C{}] keepalive_timeout", stream_.id());
  }
  stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onStreamHandshakeFailed(const std::string& reason) noexcept {
  // Counted by label, a small fixed set: the detailed reason is in the stream's debug log line.
  worker_.mutableStats().countHandshakeFailure(std::string(tls::handshakeFailureLabel(reason)));
}

void HttpConnection::drain(uint64_t deadlineMs, std::shared_ptr<const table::BindingTable> served) {
  if (stream_.closing()) return;
  closeAfterResponse_ = true;
  if (served && !drainTable_) drainTable_ = std::move(served);
  if (drainDeadline_ == 0 || deadlineMs < drainDeadline_) drainDeadline_ = deadlineMs;
  worker_.scheduleDrainDeadline(drainDeadline_);
  if (idle()) stream_.close(Stream::CloseMode::kGraceful);
}

void HttpConnection::onTableSwapped(const std::shared_ptr<const table::BindingTable>& previous,
                                    const table::BindingTable& next) {
  if (!lastRoute_ || stream_.closing()) return;
  // The binding this connection last served, looked up by its declared host name: the same
  // binding name means it survived the swap (perhaps with a new certificate or site settings).
  const table::Route* same =
      next.route(stream_.localAddress(), stream_.localPort(), lastRoute_->hostName);
  if (same && same->binding == lastRoute_->binding) {
    lastRoute_ = same;
    return;
  }
  lastRoute_ = nullptr;
  log()->debug("[C{}] binding_removed draining", stream_.id());
  drain(uv_now(worker_.loop()) + static_cast<uint64_t>(worker_.drainTimeout().count()), previous);
}

void HttpConnection::onStreamClosed() noexcept {
  if (counted_) worker_.mutableStats().active.fetch_sub(1, std::memory_order_relaxed);
  if (addressHeld_) worker_.addressLimiter().release(stream_.peerAddress());
  log()->trace("[C{}] closed", stream_.id());
  worker_.release(this);
}

}  // namespace siteplane::loop
