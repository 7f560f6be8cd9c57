#pragma once

// HTTP dates (RFC 9110 section 5.6.7). Servers send only IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT"); recipients must also accept the obsolete RFC 850 and asctime
// forms, because old clients still echo them back in If-Modified-Since.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace siteplane::staticfiles {

class HttpDate {
 public:
  // IMF-fixdate is always exactly this long.
  static constexpr size_t kLength = 29;

  // Writes the IMF-fixdate of `seconds` (UTC) into out[0..kLength); no allocation, no locale.
  static void format(std::time_t seconds, char (&out)[kLength]);
  static std::string format(std::time_t seconds);

  // Parses IMF-fixdate, RFC 850 or asctime; nullopt for anything else (including out-of-range
  // fields such as "32 Jan" or "25:00:00"). Leading/trailing whitespace is ignored.
  static std::optional<std::time_t> parse(std::string_view text);

  // The IMF-fixdate of `seconds`, reformatted only when the second changes: the Date header of
  // every response costs a comparison. The view stays valid until the next call with another
  // second. Not thread-safe: one HttpDate per worker thread.
  std::string_view formatCached(std::time_t seconds);
  // formatCached(now) using the system clock.
  std::string_view now();

 private:
  std::time_t cachedSecond_ = -1;
  char cached_[kLength] = {};
};

}  // namespace siteplane::staticfiles
