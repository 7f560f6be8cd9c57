#include "dataplane/http/request_parser.h"

#include <strings.h>

#include <algorithm>

namespace siteplane::http {
namespace {

// Beyond these, the buffers of a long-lived keep-alive connection are given back on reset() so that
// one large request does not pin memory on an otherwise idle connection.
constexpr size_t kKeepStorage = 4096;
constexpr size_t kKeepBody = 16 * 1024;
// Per-header overhead http-parser strips (": " and CRLF), counted towards maxHeaderBytes.
constexpr size_t kHeaderOverhead = 4;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

RequestParser& self(http_parser* parser) { return *static_cast<RequestParser*>(parser->data); }

std::string_view trimOws(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

bool allDigits(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& header : headers)
    if (equalsIgnoreCase(header.name, name)) return header.value;
  return {};
}

RequestParser::RequestParser(size_t maxHeaderBytes, size_t maxBodyBytes)
    : maxHeaderBytes_(maxHeaderBytes), maxBodyBytes_(maxBodyBytes) {
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_body = &RequestParser::onBody;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

void RequestParser::reset() {
  if (storage_.capacity() > kKeepStorage) std::string().swap(storage_);
  storage_.clear();
  if (request_.body.capacity() > kKeepBody) std::string().swap(request_.body);
  request_.body.clear();
  spans_.clear();
  request_.headers.clear();
  urlLength_ = 0;
  inValue_ = false;
  started_ = false;
  headersComplete_ = false;
  chunkedBody_ = false;
  complete_ = false;
  error_ = Error::kNone;
  scanner_.reset();
  chunked_.reset();
  // After a paused message http-parser continues with the next one; a fresh init is only needed
  // after an error, and reset() is never called then (the connection closes).
  http_parser_pause(&parser_, 0);
}

size_t RequestParser::feed(const char* data, size_t length) {
  if (complete_ || error_ != Error::kNone || length == 0) return 0;
  // The scanners see each byte before http-parser does, which would act on what it leniently
  // accepts. Where the head ends, http-parser gets the head alone first, so that the framing it
  // decides on (chunked or not) picks the scanner for the bytes after it.
  size_t consumed = 0;
  if (!headersComplete_) {
    const auto head = scanner_.scan(data, length);
    if (head == HeadScanner::Result::kInvalid) {
      started_ = true;
      return refuseAt(data, scanner_.scanned());
    }
    const size_t headBytes = head == HeadScanner::Result::kEnd ? scanner_.scanned() : length;
    consumed = execute(data, headBytes);
    if (head == HeadScanner::Result::kEnd && !headersComplete_ && !complete_ &&
        error_ == Error::kNone) {
      // http-parser did not end the head where its syntax ends: never guess which one is right.
      error_ = Error::kBadRequest;
      return consumed;
    }
    if (consumed < headBytes || complete_ || error_ != Error::kNone || !headersComplete_ ||
        HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED)
      return consumed;
    data += consumed;
    length -= consumed;
    if (length == 0) return consumed;
  }
  if (chunkedBody_) {
    const auto body = chunked_.scan(data, length);
    if (body == ChunkedScanner::Result::kInvalid)
      return consumed + refuseAt(data, chunked_.scanned());
    if (body == ChunkedScanner::Result::kEnd) {
      consumed += execute(data, chunked_.scanned());
      // As for the head: where the framing ends, http-parser must have ended the message too.
      if (!complete_ && error_ == Error::kNone) error_ = Error::kBadRequest;
      return consumed;
    }
  }
  return consumed + execute(data, length);
}

size_t RequestParser::refuseAt(const char* data, size_t validBytes) {
  // http-parser still gets the valid bytes before the offending one: a limit they already break
  // (431, 413) is the answer, as it is when the same bytes arrive one at a time. Which error a
  // request gets must not depend on how TCP split it.
  size_t consumed = execute(data, validBytes);
  if (error_ == Error::kNone) error_ = Error::kBadRequest;
  return consumed;
}

size_t RequestParser::execute(const char* data, size_t length) {
  size_t consumed = http_parser_execute(&parser_, &settings_, data, length);
  auto code = HTTP_PARSER_ERRNO(&parser_);
  if (code == HPE_PAUSED) return consumed;  // one complete request; the rest waits
  if (code != HPE_OK && error_ == Error::kNone) {
    error_ = code == HPE_HEADER_OVERFLOW ? Error::kHeaderTooLarge : Error::kBadRequest;
  }
  if (!complete_ && error_ == Error::kNone && parser_.upgrade) {
    // CONNECT / Upgrade: http-parser stops at the end of the headers and treats the rest as
    // another protocol. Report the request so the server can refuse it.
    request_.upgrade = true;
    if (!headersComplete_) finishHeaders();
    complete_ = true;
  }
  return consumed;
}

bool RequestParser::append(const char* at, size_t length) noexcept {
  if (storage_.size() + length + spans_.size() * kHeaderOverhead > maxHeaderBytes_) {
    error_ = Error::kHeaderTooLarge;
    return false;
  }
  try {
    storage_.append(at, length);
  } catch (...) {
    error_ = Error::kHeaderTooLarge;
    return false;
  }
  return true;
}

int RequestParser::onMessageBegin(http_parser* parser) noexcept {
  self(parser).started_ = true;
  return 0;
}

int RequestParser::onUrl(http_parser* parser, const char* at, size_t length) noexcept {
  auto& p = self(parser);
  if (!p.append(at, length)) return -1;
  p.urlLength_ += length;
  return 0;
}

int RequestParser::onHeaderField(http_parser* parser, const char* at, size_t length) noexcept {
  auto& p = self(parser);
  // Trailer fields of a chunked body come after the request's headers were handed out as views
  // into storage_: appending could move storage_ under them. Nothing uses trailers, so they are
  // dropped (RFC 9110 §6.5.1 lets a recipient discard them); ChunkedScanner has checked their
  // framing and http-parser bounds their size as it does the head's.
  if (p.headersComplete_) return 0;
  if (p.inValue_ || p.spans_.empty()) {
    try {
      p.spans_.push_back({p.storage_.size(), 0, p.storage_.size(), 0});
    } catch (...) {
      p.error_ = Error::kHeaderTooLarge;
      return -1;
    }
    p.inValue_ = false;
  }
  if (!p.append(at, length)) return -1;
  p.spans_.back().nameLength += length;
  p.spans_.back().valueOffset = p.storage_.size();
  return 0;
}

int RequestParser::onHeaderValue(http_parser* parser, const char* at, size_t length) noexcept {
  auto& p = self(parser);
  if (p.headersComplete_) return 0;  // a trailer value: dropped, as its name above
  if (p.spans_.empty()) return -1;   // http-parser never sends a value first
  p.inValue_ = true;
  if (!p.append(at, length)) return -1;
  p.spans_.back().valueLength += length;
  return 0;
}

void RequestParser::finishHeaders() {
  headersComplete_ = true;
  Request& r = request_;
  const char* base = storage_.data();
  r.method = static_cast<http_method>(parser_.method);
  r.methodName = http_method_str(r.method);
  r.versionMajor = parser_.http_major;
  r.versionMinor = parser_.http_minor;
  r.keepAlive = http_should_keep_alive(&parser_) != 0;
  r.upgrade = parser_.upgrade != 0;
  r.headers.clear();
  for (const auto& span : spans_) {
    r.headers.push_back({std::string_view(base + span.nameOffset, span.nameLength),
                         std::string_view(base + span.valueOffset, span.valueLength)});
  }
  r.target = std::string_view(base, urlLength_);
  r.host = {};
  r.hasHost = false;
  std::string_view rest = r.target;
  if (!rest.empty() && rest.front() != '/' && rest != "*") {
    // Absolute form ("http://host:port/path"): its authority overrides Host (RFC 9112 3.2.2).
    auto scheme = rest.find("://");
    if (scheme != std::string_view::npos) {
      rest.remove_prefix(scheme + 3);
      auto slash = rest.find_first_of("/?");
      r.host = rest.substr(0, slash);
      r.hasHost = true;
      rest = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
    }
  }
  auto question = rest.find('?');
  r.path = rest.substr(0, question);
  r.query = question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  if (!r.hasHost) {
    for (const auto& header : r.headers) {
      if (equalsIgnoreCase(header.name, "host")) {
        r.host = header.value;
        r.hasHost = true;
        break;
      }
    }
  }
}

bool RequestParser::framingValid() const {
  const Request& r = request_;
  int hosts = 0;
  int contentLengths = 0;
  int transferEncodings = 0;
  std::string_view transferEncoding;
  for (const auto& header : r.headers) {
    // Only the three names that decide framing or routing; the length test keeps this cheap.
    switch (header.name.size()) {
      case 4:
        if (equalsIgnoreCase(header.name, "host")) ++hosts;
        break;
      case 14:
        if (equalsIgnoreCase(header.name, "content-length")) {
          // RFC 9110 §8.6 allows merging identical values; one is what every sender means.
          if (++contentLengths > 1 || !allDigits(trimOws(header.value))) return false;
        }
        break;
      case 17:
        if (equalsIgnoreCase(header.name, "transfer-encoding")) {
          ++transferEncodings;
          transferEncoding = trimOws(header.value);
        }
        break;
      default:
        break;
    }
  }
  // RFC 9112 §3.2: more than one Host field line MUST get 400.
  if (hosts > 1) return false;
  // §2.3: only HTTP/1.x is framed this way ("GET / HTTP/2.0" is not HTTP/2).
  if (r.versionMajor != 1) return false;
  if (transferEncodings > 0) {
    // §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; with Content-Length it is the
    // classic smuggling pair (reject rather than guess which one a proxy in front honoured).
    if (r.versionMajor == 1 && r.versionMinor == 0) return false;
    if (contentLengths > 0) return false;
    // §6.3: chunked must be the final coding; we decode no other coding, so exactly "chunked".
    if (transferEncodings > 1 || !equalsIgnoreCase(transferEncoding, "chunked")) return false;
  }
  std::string_view target = r.target;
  if (r.method == HTTP_CONNECT) return true;           // authority-form; refused as an upgrade
  if (target == "*") return r.method == HTTP_OPTIONS;  // §3.2.4: asterisk-form is OPTIONS only
  if (!target.empty() && target.front() == '/') return true;
  // §3.2.2 absolute-form: an http(s) URI with a non-empty host and no userinfo (RFC 9110 §4.2.1,
  // §4.2.4: a recipient SHOULD treat userinfo as an error).
  auto scheme = target.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view name = target.substr(0, scheme);
  if (!equalsIgnoreCase(name, "http") && !equalsIgnoreCase(name, "https")) return false;
  if (r.host.empty() || r.host.find('@') != std::string_view::npos) return false;
  return true;
}

int RequestParser::onHeadersComplete(http_parser* parser) noexcept {
  auto& p = self(parser);
  try {
    p.finishHeaders();
  } catch (...) {
    p.error_ = Error::kHeaderTooLarge;
    return -1;
  }
  if (!p.framingValid()) {
    p.error_ = Error::kBadRequest;
    return -1;
  }
  // Decided here, once: http-parser's own flag changes again when a trailer field is named
  // Transfer-Encoding, and the scanner must keep framing the body by what the head said.
  p.chunkedBody_ = (parser->flags & F_CHUNKED) != 0;
  if ((parser->flags & F_CONTENTLENGTH) && parser->content_length > p.maxBodyBytes_) {
    p.error_ = Error::kBodyTooLarge;
    return -1;
  }
  return 0;
}

int RequestParser::onBody(http_parser* parser, const char* at, size_t length) noexcept {
  auto& p = self(parser);
  if (p.request_.body.size() + length > p.maxBodyBytes_) {
    p.error_ = Error::kBodyTooLarge;
    return -1;
  }
  try {
    p.request_.body.append(at, length);
  } catch (...) {
    p.error_ = Error::kBodyTooLarge;
    return -1;
  }
  return 0;
}

int RequestParser::onMessageComplete(http_parser* parser) noexcept {
  auto& p = self(parser);
  p.complete_ = true;
  p.request_.keepAlive = http_should_keep_alive(parser) != 0;
  http_parser_pause(parser, 1);
  return 0;
}

}  // namespace siteplane::http
