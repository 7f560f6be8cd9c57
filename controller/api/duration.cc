#include "controller/api/duration.h"

#include <cstdint>

namespace siteplane::api {
namespace {

constexpr int64_t kMaxSeconds = int64_t{100} * 366 * 24 * 3600;

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  if (text.empty()) return Result<Duration>::error("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      if (value > kMaxSeconds) return Result<Duration>::error("duration too long");
      ++i;
    }
    if (i == start) return Result<Duration>::error("expected a number");
    if (i == text.size()) return Result<Duration>::error("missing unit after number");
    int64_t unit = 0;
    switch (text[i]) {
      case 'd':
        unit = 24 * 3600;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'm':
        unit = 60;
        break;
      case 's':
        unit = 1;
        break;
      default:
        return Result<Duration>::error("unknown unit");
    }
    // "ms" is Go's millisecond: valid Go, but a certificate lifetime is never that short.
    if (text[i] == 'm' && i + 1 < text.size() && text[i + 1] == 's') {
      return Result<Duration>::error("sub-second units are not supported");
    }
    ++i;
    total += value * unit;
    if (total > kMaxSeconds) return Result<Duration>::error("duration too long");
  }
  return Duration(total);
}

std::string formatDuration(Duration duration) {
  int64_t seconds = duration.count();
  if (seconds == 0) return "0s";
  std::string out;
  if (seconds < 0) {
    out = "-";
    seconds = -seconds;
  }
  int64_t hours = seconds / 3600;
  int64_t minutes = seconds % 3600 / 60;
  seconds %= 60;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (seconds) out += std::to_string(seconds) + "s";
  return out;
}

}  // namespace siteplane::api
