#include "dataplane/static/conditionals.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "dataplane/static/http_date.h"

namespace siteplane::staticfiles {
namespace {

bool isOws(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isOws(text.front())) text.remove_prefix(1);
  while (!text.empty() && isOws(text.back())) text.remove_suffix(1);
  return text;
}

// Removes a "W/" weakness indicator; returns whether there was one.
bool stripWeak(std::string_view& tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') {
    tag.remove_prefix(2);
    return true;
  }
  return false;
}

// Takes the next entity-tag (with its quotes, W/ prefix kept) off the front of `list`, skipping
// separators. Returns false at the end of the list or on malformed input.
bool nextEntityTag(std::string_view& list, std::string_view& tag, bool& malformed) {
  while (!list.empty() && (isOws(list.front()) || list.front() == ',')) list.remove_prefix(1);
  if (list.empty()) return false;
  size_t start = 0;
  if (list.size() >= 2 && list[0] == 'W' && list[1] == '/') start = 2;
  if (start >= list.size() || list[start] != '"') {
    malformed = true;
    return false;
  }
  size_t close = list.find('"', start + 1);
  if (close == std::string_view::npos) {
    malformed = true;
    return false;
  }
  tag = list.substr(0, close + 1);
  list.remove_prefix(close + 1);
  // Only a separator may follow a tag.
  size_t i = 0;
  while (i < list.size() && isOws(list[i])) ++i;
  if (i < list.size() && list[i] != ',') {
    malformed = true;
    return false;
  }
  return true;
}

// Parses 1*DIGIT; values beyond uint64 saturate (they only ever mean "past the end").
bool parseNumber(std::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  uint64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (result > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      result = std::numeric_limits<uint64_t>::max();
    } else {
      result = result * 10 + digit;
    }
  }
  value = result;
  return true;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

bool ifNoneMatchMatches(std::string_view headerValue, std::string_view etag) {
  std::string_view list = trim(headerValue);
  if (list == "*") return true;
  std::string_view ours = etag;
  stripWeak(ours);
  std::string_view tag;
  bool malformed = false;
  while (nextEntityTag(list, tag, malformed)) {
    stripWeak(tag);
    if (tag == ours) return true;
  }
  return false;
}

bool ifMatchMatches(std::string_view headerValue, std::string_view etag) {
  std::string_view list = trim(headerValue);
  if (list == "*") return true;
  std::string_view ours = etag;
  if (stripWeak(ours)) return false;  // a weak validator never passes the strong comparison
  std::string_view tag;
  bool malformed = false;
  while (nextEntityTag(list, tag, malformed)) {
    if (tag == ours) return true;
  }
  return false;
}

bool unmodifiedSince(std::string_view headerValue, std::time_t mtime) {
  std::optional<std::time_t> since = HttpDate::parse(headerValue);
  return !since.has_value() || mtime <= *since;
}

bool notModifiedSince(std::string_view headerValue, std::time_t mtime) {
  std::optional<std::time_t> since = HttpDate::parse(headerValue);
  return since.has_value() && mtime <= *since;
}

bool ifRangeMatches(std::string_view headerValue, std::string_view etag, std::time_t mtime) {
  std::string_view value = trim(headerValue);
  if (value.empty()) return false;
  if (value.front() == '"' || value.substr(0, 2) == "W/") {
    std::string_view ours = etag;
    // A weak validator (ours or theirs) can never justify combining byte ranges.
    return !stripWeak(ours) && value == ours;
  }
  std::optional<std::time_t> date = HttpDate::parse(value);
  return date.has_value() && *date == mtime;
}

ByteRange parseRange(std::string_view headerValue, uint64_t size) {
  ByteRange range;
  std::string_view value = trim(headerValue);
  size_t equals = value.find('=');
  if (equals == std::string_view::npos || !equalsIgnoreCase(value.substr(0, equals), "bytes")) {
    return range;  // kIgnore: another unit or no unit at all
  }
  std::string_view set = value.substr(equals + 1);

  // Collect the one range-spec, noticing when there are more.
  std::string_view spec;
  size_t specs = 0;
  while (!set.empty()) {
    size_t comma = set.find(',');
    std::string_view element = trim(set.substr(0, comma));
    set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
    if (element.empty()) continue;  // list syntax allows empty elements
    if (++specs == 1) spec = element;
  }
  if (specs != 1) return range;  // none: malformed; several: whole representation

  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return range;
  std::string_view firstText = spec.substr(0, dash);
  std::string_view lastText = spec.substr(dash + 1);

  if (firstText.empty()) {
    // suffix-range "-n": the last n bytes.
    uint64_t suffix = 0;
    if (!parseNumber(lastText, suffix)) return range;
    if (suffix == 0 || size == 0) {
      range.kind = ByteRange::Kind::kUnsatisfiable;
      return range;
    }
    range.kind = ByteRange::Kind::kSatisfiable;
    range.first = size - std::min(suffix, size);
    range.last = size - 1;
    return range;
  }

  uint64_t first = 0;
  if (!parseNumber(firstText, first)) return range;
  uint64_t last = std::numeric_limits<uint64_t>::max();
  if (!lastText.empty()) {
    if (!parseNumber(lastText, last)) return range;
    if (last < first) return range;  // invalid, so ignored (not unsatisfiable)
  }
  if (first >= size) {
    range.kind = ByteRange::Kind::kUnsatisfiable;
    return range;
  }
  range.kind = ByteRange::Kind::kSatisfiable;
  range.first = first;
  range.last = std::min(last, size - 1);
  return range;
}

}  // namespace siteplane::staticfiles
