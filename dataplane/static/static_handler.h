#pragma once

// The static file handler of the data plane: one request in, the response metadata and the body
// source out. No sockets and no HTTP parsing here: the HTTP layer extracts the fields below, calls
// handle(), writes the status line plus appendHeaders(), and streams the body from
// response.file with OpenFile::read().

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dataplane/static/file_cache.h"
#include "dataplane/static/open_file.h"
#include "dataplane/static/request_path.h"

namespace siteplane::staticfiles {

// The parts of a request the handler reads. Views into the caller's buffers, valid during
// handle() only. An absent header is an empty view; repeated header lines must be joined with
// ", " by the caller (RFC 9110 list semantics).
struct StaticRequest {
  std::string_view method = {};  // case-sensitive, as HTTP methods are
  std::string_view target = {};  // raw path of the request-target, still percent-encoded, no query
  std::string_view ifNoneMatch = {};
  std::string_view ifModifiedSince = {};
  std::string_view range = {};
  std::string_view ifRange = {};
  std::string_view ifMatch = {};
  std::string_view ifUnmodifiedSince = {};
};

struct StaticResponse {
  // 200, 206, 301, 304, 400, 403, 404, 405, 412, 416 or 500.
  int status = 500;
  // Why, in a few words, for the access log ("dot-dot segment", "not modified"). Static storage.
  std::string_view reason;
  // The file: set for 200, 206 and 304 (whose ETag/Last-Modified it carries). Holding it keeps the
  // descriptor open while the body is streamed.
  std::shared_ptr<const OpenFile> file;
  // The body: bytes [offset, offset + length) of file. length is the Content-Length, also for
  // HEAD, whose sendBody is false.
  uint64_t offset = 0;
  uint64_t length = 0;
  bool sendBody = false;
  // 301 only: the request path with "/" appended (still percent-encoded). The caller appends
  // "?query" when the request had one.
  std::string location;

  // Appends this response's header lines ("Name: value\r\n" each) to `out`:
  //   200/206: Content-Length (+ Content-Range), Content-Type, Accept-Ranges, ETag, Last-Modified
  //   304:     ETag, Last-Modified
  //   412:     ETag, Last-Modified (so the client sees what it raced with)
  //   301:     Location
  //   405:     Allow: GET, HEAD
  //   416:     Content-Range: bytes */size, Accept-Ranges
  // Not written: the status line, Date, Server, Connection, and for error statuses the
  // Content-Type/Content-Length of the caller's own error body. Does not allocate when `out` has
  // the capacity.
  void appendHeaders(std::string& out) const;
};

struct StaticHandlerOptions {
  FileCacheOptions cache;
  DotfilePolicy dotfiles = DotfilePolicy::kDeny;
};

// Serves GET and HEAD from a site root through a FileCache. One per worker thread; not
// thread-safe (see FileCache).
class StaticHandler {
 public:
  explicit StaticHandler(StaticHandlerOptions options = {}, FileCache::Clock clock = nullptr);
  StaticHandler(const StaticHandler&) = delete;
  StaticHandler& operator=(const StaticHandler&) = delete;

  // Evaluates, in RFC 9110 section 13.2.2 order: method (405), path decoding and resolution
  // (400/403/404/301), If-Match (strong) or else If-Unmodified-Since (412), If-None-Match (weak
  // comparison; "*") or else If-Modified-Since (304), then for GET only Range honouring If-Range
  // (206/416; several ranges or an invalid header give 200).
  StaticResponse handle(const StaticRequest& request, const std::filesystem::path& root);

  FileCache& cache() { return cache_; }

 private:
  DotfilePolicy dotfiles_;
  FileCache cache_;
  std::string decoded_;  // reused by every request so that decoding does not allocate
};

}  // namespace siteplane::staticfiles
