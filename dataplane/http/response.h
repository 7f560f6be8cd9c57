#pragma once

// Response heads formatted into a caller-provided buffer: the constant pieces are precomputed, the
// rest goes through fmt::format_to into an inline buffer, so a response needs no heap allocation.

#include <fmt/format.h>

#include <ctime>
#include <string_view>

namespace siteplane::http {

// Reason phrase for a status code ("Not Found"), as RFC 9110 names it, for the data plane and the
// API server alike; "Unknown" for codes siteplane never sends.
std::string_view reasonPhrase(int status);

// The IMF-fixdate of the current second ("Wed, 25 Nov 2026 06:39:51 GMT"), reformatted only when
// the second changes. One per worker thread.
class HttpDate {
 public:
  std::string_view now();

 private:
  std::time_t second_ = 0;
  char text_[40] = {};
  size_t length_ = 0;
};

using HeadBuffer = fmt::basic_memory_buffer<char, 512>;

struct ResponseHead {
  int status = 200;
  int substatus = 0;             // IIS substatus, sent as "X-Status: 403.4" when non-zero
  std::string_view contentType;  // omitted when empty
  size_t contentLength = 0;
  bool keepAlive = true;
  bool http10 = false;            // an HTTP/1.0 client: keep-alive must be announced
  std::string_view extraHeaders;  // complete "Name: value\r\n" lines
  // extraHeaders already carry Content-Type and Content-Length (static file responses).
  bool framingInExtra = false;
};

// Appends the status line and headers, ending with the blank line.
void formatHead(HeadBuffer& out, const ResponseHead& head, std::string_view date);

}  // namespace siteplane::http
