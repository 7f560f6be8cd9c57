#include "dataplane/static/request_path.h"

#include <array>

namespace siteplane::staticfiles {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Characters copied as they are: everything but the separators, the escape character and the
// bytes refused below (controls, space, DEL, backslash).
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x21; c < 0x7f; ++c) plain[c] = true;
  plain['%'] = false;
  plain['/'] = false;
  plain['\\'] = false;
  for (int c = 0x80; c < 0x100; ++c) plain[c] = true;
  return plain;
}();

}  // namespace

PathCheck decodeRequestPath(std::string_view target, DotfilePolicy policy, std::string& out) {
  out.clear();
  if (target.empty() || target.front() != '/') return {400, "target is not an absolute path"};
  out.push_back('/');
  // out[segmentStart..] is the segment being decoded; everything before it is already checked.
  size_t segmentStart = out.size();

  // Checks the segment just decoded; `last` says whether the target ends after it.
  auto finishSegment = [&](bool last) -> PathCheck {
    std::string_view segment(out.data() + segmentStart, out.size() - segmentStart);
    if (segment.empty()) return {};  // "//" collapses; a trailing empty segment keeps the "/"
    if (segment == ".") {
      out.resize(segmentStart);
      return {};
    }
    if (segment == "..") return {403, "dot-dot segment"};
    if (segment.front() == '.' && policy == DotfilePolicy::kDeny && segment != ".well-known") {
      return {404, "hidden path segment"};
    }
    if (!last) {
      out.push_back('/');
      segmentStart = out.size();
    }
    return {};
  };

  for (size_t i = 1; i < target.size(); ++i) {
    // Most of a path is plain characters: copy each run of them in one append instead of byte by
    // byte (this loop is on every request's path, cache hit or not).
    size_t run = i;
    while (run < target.size() && kPlain[static_cast<unsigned char>(target[run])]) ++run;
    if (run > i) {
      out.append(target.data() + i, run - i);
      i = run;
      if (i == target.size()) break;
    }
    char c = target[i];
    // The request line never carries these (http-parser refuses them); refusing them here as well
    // keeps the raw target safe to echo in a Location header.
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return {400, "control character in path"};
    if (c == '%') {
      int high = i + 1 < target.size() ? hexValue(target[i + 1]) : -1;
      int low = i + 2 < target.size() ? hexValue(target[i + 2]) : -1;
      if (high < 0 || low < 0) return {400, "malformed percent-encoding"};
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '\0') return {400, "NUL in path"};
    if (c == '\\') return {403, "backslash in path"};
    if (c == '/') {
      PathCheck check = finishSegment(false);
      if (!check.ok()) return check;
      continue;
    }
    out.push_back(c);
  }
  return finishSegment(true);
}

}  // namespace siteplane::staticfiles
