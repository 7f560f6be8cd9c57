#include "dataplane/loop/stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cassert>
#include <cstring>

#include "common/logging.h"

namespace siteplane::loop {
namespace {

// How long a gracefully closing connection keeps draining the peer's unread bytes after our FIN.
constexpr uint64_t kLingerMs = 2000;
// Output buffers larger than this are released once drained, so that one big response does not
// pin memory on an idle keep-alive connection.
constexpr size_t kKeepOutputCapacity = 16 * 1024;
// The largest TLS record payload: staging more would only split it again.
constexpr size_t kRecordPlaintext = 16 * 1024;
// Staging capacity kept between responses; a typical head and small body fit well below it.
constexpr size_t kKeepStagedCapacity = 4096;

void formatAddress(const sockaddr_storage& address, char* out, size_t size, uint16_t& port) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    uv_ip4_name(&v4, out, size);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    uv_ip6_name(&v6, out, size);
    port = ntohs(v6.sin6_port);
  }
}

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("dataplane.loop");
  return instance;
}

}  // namespace

Stream::Stream(uv_loop_t* loop, StreamHandler& handler, StreamBuffers& buffers, uint64_t id)
    : loop_(loop), handler_(handler), buffers_(buffers), id_(id) {
  // Neither can fail: uv_tcp_init without an address family opens no socket, and uv_timer_init
  // only links the handle into the loop (libuv returns 0 from both unconditionally on Unix).
  // Embedded rather than UvHandles, as a connection allocates once: the connection itself is
  // freed only in the close callback of the last of them (closeHandles).
  [[maybe_unused]] int tcpInit = uv_tcp_init(loop_, &tcp_);
  [[maybe_unused]] int timerInit = uv_timer_init(loop_, &timer_);
  assert(tcpInit == 0 && timerInit == 0);
  tcp_.data = this;
  timer_.data = this;
  writeRequest_.data = this;
  shutdownRequest_.data = this;
}

Status Stream::accept(uv_stream_t* server) {
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc != 0) {
    closeHandles();
    return Status::error(std::string("accept: ") + uv_strerror(rc));
  }
  uv_tcp_nodelay(&tcp_, 1);
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    formatAddress(address, localAddress_, sizeof localAddress_, localPort_);
  length = sizeof address;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    formatAddress(address, peerAddress_, sizeof peerAddress_, peerPort_);
  return Status::ok();
}

Status Stream::enableTls(std::shared_ptr<const tls::ServerContext> initial,
                         tls::TlsSession::ContextSelector& selector) {
  auto session = tls::TlsSession::create(std::move(initial), selector, output_);
  if (!session) return session.status();
  tls_ = std::move(session).value();
  return Status::ok();
}

void Stream::start() {
  if (closing()) return;
  resumeReading();
  if (!tls_) {
    open_ = true;
    handler_.onStreamOpen();
    flush();
  }
}

void Stream::write(const char* data, size_t length) {
  if (closing_ || lingering_ || length == 0) return;
  if (!tls_) {
    output_.append(data, length);
    return;
  }
  if (staged_.size() + length <= kRecordPlaintext) {
    staged_.append(data, length);
    return;
  }
  if (!sealStaged()) return;
  if (length < kRecordPlaintext) {
    staged_.append(data, length);
    return;
  }
  // Large writes (file bodies) are sealed straight from the caller's buffer: no staging copy.
  if (!tls_->write(data, length)) {
    log()->debug("[C{}] tls_write_failed reason={}", id_, tls_->failureReason());
    close(CloseMode::kAbort);
  }
}

bool Stream::sealStaged() {
  if (staged_.empty()) return true;
  bool sealed = tls_->write(staged_.data(), staged_.size());
  staged_.clear();
  if (staged_.capacity() > kKeepStagedCapacity) std::string().swap(staged_);
  if (!sealed) {
    log()->debug("[C{}] tls_write_failed reason={}", id_, tls_->failureReason());
    close(CloseMode::kAbort);
  }
  return sealed;
}

void Stream::flush() {
  if (closing_) return;
  if (tls_ && !sealStaged()) return;
  if (flushing_ || writing_) return;
  flushing_ = true;
  // Bounded: each round either sends output or ends; a handler that keeps producing after every
  // drain is throttled by the loop turn once a write goes asynchronous.
  for (int round = 0; round < 64; ++round) {
    if (tls_ && !sealStaged()) {
      flushing_ = false;
      return;
    }
    if (!output_.empty()) {
      uv_buf_t buffer = uv_buf_init(output_.data(), static_cast<unsigned>(output_.size()));
      int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buffer, 1);
      if (written == UV_EAGAIN || written == UV_ENOSYS) written = 0;
      if (written < 0) {
        log()->debug("[C{}] write_failed error={}", id_, uv_strerror(written));
        flushing_ = false;
        close(CloseMode::kAbort);
        return;
      }
      if (static_cast<size_t>(written) < output_.size()) {
        // The kernel is full: hand the rest to libuv and keep accumulating into a fresh buffer.
        sending_.swap(output_);
        output_.clear();
        sendingOffset_ = static_cast<size_t>(written);
        uv_buf_t rest = uv_buf_init(sending_.data() + sendingOffset_,
                                    static_cast<unsigned>(sending_.size() - sendingOffset_));
        int rc =
            uv_write(&writeRequest_, reinterpret_cast<uv_stream_t*>(&tcp_), &rest, 1, &onWrite);
        if (rc != 0) {
          flushing_ = false;
          close(CloseMode::kAbort);
          return;
        }
        writing_ = true;
        flushing_ = false;
        return;
      }
      output_.clear();
      // A producer waiting for the drain (a file body) refills it at once: keep the memory.
      if (!notifyDrained_ && output_.capacity() > kKeepOutputCapacity) std::string().swap(output_);
    }
    if (closeRequested_) {
      flushing_ = false;
      finishGracefulClose();
      return;
    }
    if (!notifyDrained_) break;
    notifyDrained_ = false;
    handler_.onStreamDrained();
    if (closing_) break;
  }
  flushing_ = false;
}

void Stream::onWrite(uv_write_t* request, int status) noexcept {
  auto* self = static_cast<Stream*>(request->data);
  self->writing_ = false;
  self->sending_.clear();
  if (!self->notifyDrained_ && self->sending_.capacity() > kKeepOutputCapacity)
    std::string().swap(self->sending_);
  self->sendingOffset_ = 0;
  if (status < 0) {
    if (status != UV_ECANCELED) self->close(CloseMode::kAbort);
    return;
  }
  self->flush();
}

void Stream::pauseReading() {
  if (!reading_ || closing_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Stream::resumeReading() {
  if (reading_ || closing_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &onAlloc, &onRead) == 0) reading_ = true;
}

void Stream::setTimer(std::chrono::milliseconds timeout) {
  if (closing_ || lingering_) return;
  if (timeout.count() <= 0) {
    uv_timer_stop(&timer_);
  } else {
    uv_timer_start(&timer_, &onTimer, static_cast<uint64_t>(timeout.count()), 0);
  }
}

void Stream::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Stream*>(handle->data);
  *buf =
      uv_buf_init(self->buffers_.input.data(), static_cast<unsigned>(self->buffers_.input.size()));
}

void Stream::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Stream*>(stream->data);
  if (nread == 0 || self->closing_) return;
  if (self->lingering_) {
    // Discarding what the peer still sends after our FIN; its FIN or an error ends the linger.
    if (nread < 0) self->closeHandles();
    return;
  }
  if (nread < 0) {
    if (self->tls_ && !self->tls_->handshakeDone()) {
      self->handshakeFailed(nread == UV_EOF ? "eof" : uv_strerror(static_cast<int>(nread)));
      return;
    }
    if (nread != UV_EOF) {
      self->close(CloseMode::kAbort);
      return;
    }
    self->pauseReading();
    if (self->open_)
      self->handler_.onStreamEnd();
    else
      self->close(CloseMode::kAbort);
    self->flush();
    return;
  }
  self->handleRead(buf->base, static_cast<size_t>(nread));
  self->flush();
}

void Stream::handleRead(const char* data, size_t length) {
  if (tls_) {
    handleTls(data, length);
  } else {
    handler_.onStreamData(data, length);
  }
}

void Stream::handleTls(const char* data, size_t length) {
  tls_->setInput(data, length);
  if (!tls_->handshakeDone()) {
    auto progress = tls_->handshake();
    if (progress == tls::TlsSession::Progress::kFailed) {
      handshakeFailed(tls_->failureReason());
      return;
    }
    if (progress == tls::TlsSession::Progress::kWantMore) return;
    open_ = true;
    handler_.onStreamOpen();
  }
  // Decrypt everything that arrived: the input lives in the loop's shared buffer, which the next
  // read of any stream overwrites. The handler keeps what it cannot process yet.
  while (!closing_ && !lingering_) {
    long n = tls_->read(buffers_.plaintext.data(), buffers_.plaintext.size());
    if (n > 0) {
      handler_.onStreamData(buffers_.plaintext.data(), static_cast<size_t>(n));
      if (!tls_->hasBufferedData()) break;  // everything read: a further SSL_read would only fail
      continue;
    }
    if (n < 0) {
      pauseReading();
      if (tls_->failureReason() == "close_notify") {
        handler_.onStreamEnd();
      } else {
        log()->debug("[C{}] tls_read_failed reason={}", id_, tls_->failureReason());
        close(CloseMode::kAbort);
      }
    }
    break;
  }
}

void Stream::handshakeFailed(const std::string& reason) {
  log()->debug("[C{}] handshake_failed peer={} reason={}", id_, peerAddress_, reason);
  handler_.onStreamHandshakeFailed(reason);
  // Let the alert OpenSSL wrote (unrecognized_name, protocol_version) reach the client.
  close(CloseMode::kGraceful);
}

void Stream::close(CloseMode mode) {
  if (closing_) return;
  if (mode == CloseMode::kAbort) {
    closeHandles();
    return;
  }
  if (closeRequested_) return;
  closeRequested_ = true;
  if (tls_ && tls_->handshakeDone() && sealStaged()) tls_->shutdown();
  if (!flushing_) flush();
}

void Stream::finishGracefulClose() {
  if (lingering_ || closing_) return;
  lingering_ = true;
  uv_timer_stop(&timer_);
  if (uv_shutdown(&shutdownRequest_, reinterpret_cast<uv_stream_t*>(&tcp_), &onShutdown) != 0) {
    closeHandles();
    return;
  }
}

void Stream::onShutdown(uv_shutdown_t* request, int status) noexcept {
  auto* self = static_cast<Stream*>(request->data);
  if (self->closing_) return;
  if (status < 0) {
    self->closeHandles();
    return;
  }
  self->resumeReading();
  uv_timer_start(&self->timer_, &onTimer, kLingerMs, 0);
}

void Stream::onTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Stream*>(timer->data);
  if (self->closing_) return;
  if (self->lingering_) {
    self->closeHandles();
    return;
  }
  if (self->tls_ && !self->tls_->handshakeDone()) {
    self->handshakeFailed("timeout");
    self->flush();
    return;
  }
  self->handler_.onStreamTimeout();
  self->flush();
}

void Stream::closeHandles() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  pendingCloses_ = 2;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &onClose);
}

void Stream::onClose(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Stream*>(handle->data);
  if (--self->pendingCloses_ == 0) self->handler_.onStreamClosed();
}

}  // namespace siteplane::loop
