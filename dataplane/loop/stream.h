#pragma once

// A byte stream over one accepted TCP connection on a libuv loop, with optional TLS: the transport
// under the HTTP/1.1 server and reusable by any other protocol handler (the API server's JSON and
// watch responses). It knows nothing of HTTP.
//
// - Reads land in a buffer shared by every stream of the loop (StreamBuffers): a stream processes
//   each read completely inside the callback, so idle connections own no read buffer at all.
// - Writes accumulate in one output buffer and go to the kernel at flush(): uv_try_write first, one
//   uv_write for whatever remains, so all the responses produced by one read (pipelining) leave in
//   one system call. With TLS, small writes are staged as plaintext and sealed together at flush()
//   (or when a record's worth has gathered): a response head and its small body, or a batch of
//   pipelined responses, become one TLS record instead of one record per write.
// - close(kGraceful) sends the pending output, TLS close_notify and a FIN, then drains what the
//   peer still sends for a short while before closing, so that an error response is not destroyed
//   by a TCP reset (nginx's lingering close).
//
// Touched only on its loop's thread. Owned by its handler; the handler frees it (and itself) no
// earlier than StreamHandler::onStreamClosed(), the last call a stream makes.

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::loop {

// Scratch memory shared by the streams of one loop.
struct StreamBuffers {
  std::array<char, 64 * 1024> input;
  std::array<char, 16 * 1024> plaintext;
};

class StreamHandler {
 public:
  // The stream is ready for application data (after the TLS handshake, at once for plain TCP).
  virtual void onStreamOpen() noexcept = 0;
  // Plaintext from the peer. The bytes are valid only during the call: copy what is kept.
  virtual void onStreamData(const char* data, size_t length) noexcept = 0;
  // The peer finished sending (FIN or close_notify). The handler decides when to close.
  virtual void onStreamEnd() noexcept = 0;
  // Requested with notifyWhenDrained(): all queued output has reached the kernel.
  virtual void onStreamDrained() noexcept = 0;
  // The timer set with setTimer() expired.
  virtual void onStreamTimeout() noexcept = 0;
  // The TLS handshake failed (reason as TlsSession::failureReason(), or "timeout"/"eof"). The
  // stream closes itself afterwards.
  virtual void onStreamHandshakeFailed(const std::string& reason) noexcept = 0;
  // Both handles are closed; nothing of the stream is used after this returns.
  virtual void onStreamClosed() noexcept = 0;

 protected:
  ~StreamHandler() = default;
};

class Stream {
 public:
  // Above this much queued output a producer should wait for onStreamDrained().
  static constexpr size_t kHighWatermark = 256 * 1024;

  Stream(uv_loop_t* loop, StreamHandler& handler, StreamBuffers& buffers, uint64_t id);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Accepts the pending connection of server. On failure the stream is closed (onStreamClosed
  // follows) and the error is returned.
  Status accept(uv_stream_t* server);
  // Turns TLS on before start(). `initial` is the listener's first context; the selector picks the
  // real one from SNI.
  Status enableTls(std::shared_ptr<const tls::ServerContext> initial,
                   tls::TlsSession::ContextSelector& selector);
  // Starts reading (and handshaking). onStreamOpen() comes at once for plain TCP.
  void start();

  void write(const char* data, size_t length);
  void write(std::string_view data) { write(data.data(), data.size()); }
  // Hands queued output to the kernel. Called by the stream at the end of each of its callbacks;
  // call it after writing from outside one (a timer or async of the handler's own).
  void flush();
  size_t backlog() const {
    return staged_.size() + output_.size() + (sending_.size() - sendingOffset_);
  }
  void notifyWhenDrained() { notifyDrained_ = true; }

  void pauseReading();
  void resumeReading();
  // One timer per stream: (re)arms it; zero disarms.
  void setTimer(std::chrono::milliseconds timeout);

  enum class CloseMode { kGraceful, kAbort };
  void close(CloseMode mode);
  bool closing() const { return closeRequested_ || closing_; }

  uint64_t id() const { return id_; }
  const tls::TlsSession* tls() const { return tls_.get(); }
  // Normalized IP literals and ports of both ends, known after accept().
  std::string_view localAddress() const { return localAddress_; }
  uint16_t localPort() const { return localPort_; }
  std::string_view peerAddress() const { return peerAddress_; }
  uint16_t peerPort() const { return peerPort_; }
  uv_loop_t* loop() const { return loop_; }

 private:
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* request, int status) noexcept;
  static void onShutdown(uv_shutdown_t* request, int status) noexcept;
  static void onTimer(uv_timer_t* timer) noexcept;
  static void onClose(uv_handle_t* handle) noexcept;
  void handleRead(const char* data, size_t length);
  void handleTls(const char* data, size_t length);
  void handshakeFailed(const std::string& reason);
  void finishGracefulClose();
  void closeHandles();
  // TLS: encrypts the staged plaintext into output_. False (and the stream aborts) on failure.
  bool sealStaged();

  uv_loop_t* loop_;
  StreamHandler& handler_;
  StreamBuffers& buffers_;
  uint64_t id_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_write_t writeRequest_;
  uv_shutdown_t shutdownRequest_;
  std::unique_ptr<tls::TlsSession> tls_;
  std::string staged_;   // TLS plaintext waiting to be sealed into one record at flush()
  std::string output_;   // accumulating (ciphertext for TLS)
  std::string sending_;  // owned by the in-flight uv_write
  size_t sendingOffset_ = 0;
  bool writing_ = false;
  bool flushing_ = false;
  bool notifyDrained_ = false;
  bool reading_ = false;
  bool open_ = false;            // onStreamOpen delivered
  bool closeRequested_ = false;  // graceful close waiting for output
  bool lingering_ = false;       // FIN sent, discarding input until EOF or timer
  bool closing_ = false;         // uv_close called
  int pendingCloses_ = 0;
  char localAddress_[46] = {};
  char peerAddress_[46] = {};
  uint16_t localPort_ = 0;
  uint16_t peerPort_ = 0;
};

}  // namespace siteplane::loop
