#include "common/names.h"

#include <algorithm>

namespace siteplane {

bool isDns1123Label(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lowerAlnum(text.front()) || !lowerAlnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) { return lowerAlnum(c) || c == '-'; });
}

}  // namespace siteplane
