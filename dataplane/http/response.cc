#include "dataplane/http/response.h"

#include <iterator>

namespace siteplane::http {

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 416: return "Range Not Satisfiable";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
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

void formatHead(HeadBuffer& out, const ResponseHead& head, std::string_view date) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "HTTP/1.1 {} {}\r\nServer: siteplane\r\nDate: {}\r\n", head.status,
                 reasonPhrase(head.status), date);
  if (head.substatus != 0) fmt::format_to(it, "X-Status: {}.{}\r\n", head.status, head.substatus);
  if (!head.framingInExtra && !head.contentType.empty())
    fmt::format_to(it, "Content-Type: {}\r\n", head.contentType);
  // 304 and 1xx carry no body and no length (RFC 9110 8.6).
  if (!head.framingInExtra && head.status != 304 && head.status >= 200)
    fmt::format_to(it, "Content-Length: {}\r\n", head.contentLength);
  if (!head.keepAlive) {
    out.append(std::string_view("Connection: close\r\n"));
  } else if (head.http10) {
    out.append(std::string_view("Connection: keep-alive\r\n"));
  }
  out.append(head.extraHeaders);
  out.append(std::string_view("\r\n"));
}

}  // namespace siteplane::http
