#pragma once

// One HTTP/1.1 server connection: a Stream (TLS or plain) plus a RequestParser, answering requests
// in order with the binding table of its worker. Requests are handled one at a time: pipelined
// bytes that arrive while a response is still going out wait in pending_.

#include <list>
#include <memory>
#include <string>

#include "dataplane/http/request_parser.h"
#include "dataplane/http/site_dispatcher.h"
#include "dataplane/loop/stream.h"
#include "dataplane/static/open_file.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::loop {

class Worker;
struct WorkerListener;

class HttpConnection final : public StreamHandler, public tls::TlsSession::ContextSelector {
 public:
  HttpConnection(Worker& worker, std::shared_ptr<WorkerListener> listener, uint64_t id);
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Accepts from server and starts serving. On failure the connection closes (and is released).
  void begin(uv_stream_t* server);
  // Finish the request in flight (answered with Connection: close) and close; idle: close now.
  // The worker aborts it if it is still open at deadlineMs.
  // `served` is the table its request in flight is answered with: the one the connection was
  // served by before its listener or binding went away (null: the worker's current table).
  void drain(uint64_t deadlineMs, std::shared_ptr<const table::BindingTable> served = nullptr);
  // The worker switched from `previous` to `next`. lastRoute_ points into previous. A connection
  // whose binding disappeared drains, answering its request in flight with the previous table.
  void onTableSwapped(const std::shared_ptr<const table::BindingTable>& previous,
                      const table::BindingTable& next);
  void abort() { stream_.close(Stream::CloseMode::kAbort); }
  uint64_t drainDeadline() const { return drainDeadline_; }
  const WorkerListener& listener() const { return *listener_; }

  std::list<std::unique_ptr<HttpConnection>>::iterator position;  // in the worker's list

  // StreamHandler
  void onStreamOpen() noexcept override;
  void onStreamData(const char* data, size_t length) noexcept override;
  void onStreamEnd() noexcept override;
  void onStreamDrained() noexcept override;
  void onStreamTimeout() noexcept override;
  void onStreamHandshakeFailed(const std::string& reason) noexcept override;
  void onStreamClosed() noexcept override;
  // ContextSelector
  std::shared_ptr<const tls::ServerContext> selectAcmeChallengeContext(
      std::string_view serverName) noexcept override;
  std::shared_ptr<const tls::ServerContext> selectContext(
      std::string_view serverName) noexcept override;

 private:
  void parse(const char* data, size_t length);
  void handleRequest();
  // An ACME http-01 request the controller has an answer for, answered before any site policy
  // (so requireSSL and redirectHTTP sites still validate). False: not one; dispatch as usual.
  bool answerAcmeChallenge(const http::Request& request);
  void serveStatic(const http::Request& request, const http::Decision& decision);
  // A complete text response (error pages, redirects).
  void respond(const http::Request* request, int status, int substatus, std::string_view body,
               std::string_view extraHeaders, const table::Route* route);
  // Status line and headers; the body (if any) follows from the caller.
  size_t writeHead(const http::Request* request, int status, int substatus,
                   std::string_view contentType, size_t contentLength,
                   std::string_view extraHeaders, bool framingInExtra);
  void record(const http::Request* request, int status, int substatus, const table::Route* route,
              uint64_t bytes);
  // Streams the file body in flight until done or the output is full; then finishes the response.
  void continueBody();
  void finishResponse();
  void respondToParseError();
  void armTimer();
  // Moves the connection's deadline. The stream timer is re-armed only when the deadline moves
  // earlier; a later one is picked up when the timer fires (onStreamTimeout), so the common
  // request -> keep-alive transition costs no timer operation.
  void setDeadline(std::chrono::milliseconds timeout);
  bool idle() const { return !parser_.started() && pending_.empty() && !responding_; }

  Worker& worker_;
  std::shared_ptr<WorkerListener> listener_;
  Stream stream_;
  http::RequestParser parser_;
  std::string pending_;  // plaintext not parsed yet (pipelined behind an unfinished response)
  const table::Route* lastRoute_ = nullptr;  // in the worker's current table
  // While draining: the table the connection's binding still exists in.
  std::shared_ptr<const table::BindingTable> drainTable_;
  uint64_t requestStart_ = 0;  // uv_now when the request's first byte came
  uint64_t drainDeadline_ = 0;
  uint64_t deadline_ = 0;       // uv_now when the current timeout expires
  uint64_t timerArmedFor_ = 0;  // deadline the stream timer will fire at, 0: not armed
  bool requestTimerArmed_ = false;
  bool keepAlive_ = true;    // of the response being written
  bool responding_ = false;  // a file body is still streaming
  std::shared_ptr<const staticfiles::OpenFile> body_;
  uint64_t bodyOffset_ = 0;
  uint64_t bodyRemaining_ = 0;
  bool closeAfterResponse_ = false;
  bool peerEnded_ = false;  // the client half-closed: answer what it sent, then close
  bool counted_ = false;
  bool addressHeld_ = false;  // counted in the worker's AddressLimiter
};

}  // namespace siteplane::loop
