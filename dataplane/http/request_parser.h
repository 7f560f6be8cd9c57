#pragma once

// An HTTP/1.1 request parser over http-parser, independent of sockets and of what the server does
// with a request (static files here, the JSON API elsewhere). It parses exactly one request at a
// time: feed() stops after a complete request and leaves the rest of the bytes to the caller, so
// pipelined requests are answered in order. Memory is reused across the requests of a connection.

#include <http_parser.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/http/chunked_scanner.h"
#include "dataplane/http/head_scanner.h"

namespace siteplane::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

// A parsed request. Views point into the parser and stay valid until reset().
struct Request {
  http_method method = HTTP_GET;
  std::string_view methodName;  // "GET"
  std::string_view target;      // as sent: "/a/b?x=1", "http://host/a", "*"
  std::string_view path;        // "/a/b" (still percent-encoded)
  std::string_view query;       // "x=1" (without '?')
  std::string_view host;        // from an absolute target, else the Host header; with any port
  bool hasHost = false;         // a Host header or absolute-form target was present
  unsigned short versionMajor = 1;
  unsigned short versionMinor = 1;
  bool keepAlive = true;  // what the client asked for (HTTP/1.1 default, HTTP/1.0 keep-alive)
  bool upgrade = false;   // CONNECT or Upgrade: not served here
  std::vector<Header> headers;
  std::string body;

  // Case-insensitive lookup of the first header with this name; "" when absent.
  std::string_view header(std::string_view name) const;
};

class RequestParser {
 public:
  enum class Error {
    kNone,
    kBadRequest,      // 400: not HTTP, malformed or ambiguous framing (RFC 9112 MUST-rejects)
    kHeaderTooLarge,  // 431: request line + headers above maxHeaderBytes
    kBodyTooLarge,    // 413: declared or received body above maxBodyBytes
  };

  RequestParser(size_t maxHeaderBytes, size_t maxBodyBytes);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses up to one request from data and returns the bytes consumed. After it returns, check
  // complete() (a request is ready: answer it, then reset()) and error(). Without either, all bytes
  // were consumed and more are needed.
  size_t feed(const char* data, size_t length);

  bool complete() const { return complete_; }
  Error error() const { return error_; }
  // Some bytes of a request arrived (an unfinished request, e.g. for 408 vs a silent close).
  bool started() const { return started_; }
  // The request line and headers are complete (the body may still be arriving).
  bool headersComplete() const { return headersComplete_; }
  const Request& request() const { return request_; }
  // Ready for the next request on the same connection. Keeps allocated memory, within limits.
  void reset();

 private:
  static int onMessageBegin(http_parser* parser) noexcept;
  static int onUrl(http_parser* parser, const char* at, size_t length) noexcept;
  static int onHeaderField(http_parser* parser, const char* at, size_t length) noexcept;
  static int onHeaderValue(http_parser* parser, const char* at, size_t length) noexcept;
  static int onHeadersComplete(http_parser* parser) noexcept;
  static int onBody(http_parser* parser, const char* at, size_t length) noexcept;
  static int onMessageComplete(http_parser* parser) noexcept;
  // http-parser over these bytes, with its errors and upgrades mapped to ours.
  size_t execute(const char* data, size_t length);
  // The bytes before a framing error (at data + validBytes) go to http-parser, then the error.
  size_t refuseAt(const char* data, size_t validBytes);
  bool append(const char* at, size_t length) noexcept;
  void finishHeaders();
  // The framing rules of RFC 9112 that http-parser does not enforce; false: 400.
  bool framingValid() const;

  struct Span {
    size_t nameOffset, nameLength, valueOffset, valueLength;
  };

  http_parser parser_;
  http_parser_settings settings_;
  HeadScanner scanner_;     // the head's byte syntax, checked before http-parser acts on it
  ChunkedScanner chunked_;  // the same for a chunked body's framing
  size_t maxHeaderBytes_;
  size_t maxBodyBytes_;
  std::string storage_;  // url, then header names and values, back to back
  size_t urlLength_ = 0;
  std::vector<Span> spans_;
  bool inValue_ = false;
  bool started_ = false;
  bool headersComplete_ = false;
  bool chunkedBody_ = false;  // the head framed the body as chunked
  bool complete_ = false;
  Error error_ = Error::kNone;
  Request request_;
};

}  // namespace siteplane::http
