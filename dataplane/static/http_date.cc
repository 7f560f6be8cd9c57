#include "dataplane/static/http_date.h"

#include <array>
#include <chrono>
#include <cstring>

namespace siteplane::staticfiles {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void putTwoDigits(char* out, int value) {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
}

// A cursor over the field value; every accessor consumes on success only.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Exactly `count` digits.
  bool digits(size_t count, int& value) {
    if (text_.size() < count) return false;
    int result = 0;
    for (size_t i = 0; i < count; ++i) {
      char c = text_[i];
      if (c < '0' || c > '9') return false;
      result = result * 10 + (c - '0');
    }
    value = result;
    text_.remove_prefix(count);
    return true;
  }
  // One of `names`; returns its index.
  template <size_t N>
  bool name(const std::array<std::string_view, N>& names, int& index) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  // "HH:MM:SS"
  bool time(std::tm& tm) {
    return digits(2, tm.tm_hour) && literal(":") && digits(2, tm.tm_min) && literal(":") &&
           digits(2, tm.tm_sec);
  }
  bool done() const { return text_.empty(); }

 private:
  std::string_view text_;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool parseImfFixdate(std::string_view text, std::tm& tm, int& weekday) {
  Scanner s(text);
  return s.name(kDays, weekday) && s.literal(", ") && s.digits(2, tm.tm_mday) && s.literal(" ") &&
         s.name(kMonths, tm.tm_mon) && s.literal(" ") && s.digits(4, tm.tm_year) &&
         s.literal(" ") && s.time(tm) && s.literal(" GMT") && s.done();
}

bool parseRfc850(std::string_view text, std::tm& tm, int& weekday) {
  Scanner s(text);
  if (!(s.name(kLongDays, weekday) && s.literal(", ") && s.digits(2, tm.tm_mday) &&
        s.literal("-") && s.name(kMonths, tm.tm_mon) && s.literal("-") && s.digits(2, tm.tm_year) &&
        s.literal(" ") && s.time(tm) && s.literal(" GMT") && s.done())) {
    return false;
  }
  // RFC 9110: a two-digit year more than 50 years in the future means the past century. Files
  // served here are never dated in the future, so the fixed pivot of 1970 is the same rule.
  tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
  return true;
}

bool parseAsctime(std::string_view text, std::tm& tm, int& weekday) {
  Scanner s(text);
  if (!(s.name(kDays, weekday) && s.literal(" ") && s.name(kMonths, tm.tm_mon) && s.literal(" "))) {
    return false;
  }
  // The day is two digits or a space and one digit ("Nov  6").
  if (!(s.literal(" ") ? s.digits(1, tm.tm_mday) : s.digits(2, tm.tm_mday))) return false;
  return s.literal(" ") && s.time(tm) && s.literal(" ") && s.digits(4, tm.tm_year) && s.done();
}

}  // namespace

void HttpDate::format(std::time_t seconds, char (&out)[kLength]) {
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::memcpy(out, kDays[tm.tm_wday].data(), 3);
  out[3] = ',';
  out[4] = ' ';
  putTwoDigits(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[tm.tm_mon].data(), 3);
  out[11] = ' ';
  int year = tm.tm_year + 1900;
  // Years outside 0..9999 cannot be written as IMF-fixdate; clamp rather than emit garbage.
  if (year < 0) year = 0;
  if (year > 9999) year = 9999;
  putTwoDigits(out + 12, year / 100);
  putTwoDigits(out + 14, year % 100);
  out[16] = ' ';
  putTwoDigits(out + 17, tm.tm_hour);
  out[19] = ':';
  putTwoDigits(out + 20, tm.tm_min);
  out[22] = ':';
  putTwoDigits(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
}

std::string HttpDate::format(std::time_t seconds) {
  char buffer[kLength];
  format(seconds, buffer);
  return std::string(buffer, kLength);
}

std::optional<std::time_t> HttpDate::parse(std::string_view text) {
  text = trim(text);
  std::tm tm{};
  int weekday = -1;
  bool parsed = false;
  if (parseImfFixdate(text, tm, weekday)) {
    parsed = true;
  } else {
    tm = {};
    if (parseRfc850(text, tm, weekday)) {
      parsed = true;
    } else {
      tm = {};
      parsed = parseAsctime(text, tm, weekday);
    }
  }
  if (!parsed) return std::nullopt;
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  std::tm wanted = tm;
  std::time_t seconds = timegm(&tm);
  // timegm normalizes "30 Feb" into March; a date that does not survive the round trip is invalid.
  if (tm.tm_mday != wanted.tm_mday || tm.tm_mon != wanted.tm_mon || tm.tm_year != wanted.tm_year) {
    return std::nullopt;
  }
  return seconds;
}

std::string_view HttpDate::formatCached(std::time_t seconds) {
  if (seconds != cachedSecond_) {
    format(seconds, cached_);
    cachedSecond_ = seconds;
  }
  return std::string_view(cached_, kLength);
}

std::string_view HttpDate::now() {
  return formatCached(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
}

}  // namespace siteplane::staticfiles
