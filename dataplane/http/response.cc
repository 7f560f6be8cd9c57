#include "dataplane/http/response.h"

namespace siteplane::http {

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string_view HttpDate::now() {
  std::time_t second = std::time(nullptr);
  if (second != second_ || length_ == 0) {
    std::tm utc{};
    gmtime_r(&second, &utc);
    length_ = std::strftime(text_, sizeof text_, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    second_ = second;
  }
  return {text_, length_};
}

namespace {

void append(HeadBuffer& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

void appendNumber(HeadBuffer& out, uint64_t value) {
  fmt::format_int digits(value);
  out.append(digits.data(), digits.data() + digits.size());
}

}  // namespace

// Plain appends rather than one format string: this runs for every response and fmt's parsing
// of the format string cost more than the copying (measured with callgrind).
void formatHead(HeadBuffer& out, const ResponseHead& head, std::string_view date) {
  append(out, "HTTP/1.1 ");
  appendNumber(out, static_cast<uint64_t>(head.status));
  out.push_back(' ');
  append(out, reasonPhrase(head.status));
  append(out, "\r\nServer: siteplane\r\nDate: ");
  append(out, date);
  append(out, "\r\n");
  if (head.substatus != 0) {
    append(out, "X-Status: ");
    appendNumber(out, static_cast<uint64_t>(head.status));
    out.push_back('.');
    appendNumber(out, static_cast<uint64_t>(head.substatus));
    append(out, "\r\n");
  }
  if (!head.framingInExtra && !head.contentType.empty()) {
    append(out, "Content-Type: ");
    append(out, head.contentType);
    append(out, "\r\n");
  }
  // 304 and 1xx carry no body and no length (RFC 9110 8.6).
  if (!head.framingInExtra && head.status != 304 && head.status >= 200) {
    append(out, "Content-Length: ");
    appendNumber(out, head.contentLength);
    append(out, "\r\n");
  }
  if (!head.keepAlive) {
    append(out, "Connection: close\r\n");
  } else if (head.http10) {
    append(out, "Connection: keep-alive\r\n");
  }
  append(out, head.extraHeaders);
  append(out, "\r\n");
}

}  // namespace siteplane::http
