#include "controller/api/time.h"

#include <cstdio>

namespace siteplane::api {
namespace {

bool digits(std::string_view text, size_t at, size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

Result<Time> parseTime(std::string_view text) {
  using namespace std::chrono;
  auto invalid = [&] {
    return Result<Time>::error("must be an RFC 3339 time such as \"2026-01-02T15:04:05Z\"");
  };
  int y, mo, d, h, mi, s;
  if (!digits(text, 0, 4, y) || text.size() < 20 || text[4] != '-' || !digits(text, 5, 2, mo) ||
      text[7] != '-' || !digits(text, 8, 2, d) || (text[10] != 'T' && text[10] != 't') ||
      !digits(text, 11, 2, h) || text[13] != ':' || !digits(text, 14, 2, mi) || text[16] != ':' ||
      !digits(text, 17, 2, s)) {
    return invalid();
  }
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  // 60 is a leap second, which RFC 3339 allows and which is folded into the next second.
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return invalid();
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return invalid();
  }
  if (i >= text.size()) return invalid();
  seconds offset{0};
  if (text[i] == 'Z' || text[i] == 'z') {
    ++i;
  } else if (text[i] == '+' || text[i] == '-') {
    int oh, om;
    if (!digits(text, i + 1, 2, oh) || i + 3 >= text.size() || text[i + 3] != ':' ||
        !digits(text, i + 4, 2, om) || oh > 23 || om > 59) {
      return invalid();
    }
    offset = hours{oh} + minutes{om};
    if (text[i] == '-') offset = -offset;
    i += 6;
  } else {
    return invalid();
  }
  if (i != text.size()) return invalid();
  return Time{sys_days{date}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s} - offset};
}

std::string formatTime(Time time) {
  using namespace std::chrono;
  auto dayPoint = floor<days>(time);
  year_month_day date{dayPoint};
  hh_mm_ss clock{time - dayPoint};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return buffer;
}

Time now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

Time now(const Clock& clock) { return std::chrono::floor<std::chrono::seconds>(clock.wallNow()); }

}  // namespace siteplane::api
