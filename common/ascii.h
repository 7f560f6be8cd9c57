#pragma once

// ASCII case folding, for the names DNS and HTTP compare without case (host names, header names).

#include <string>
#include <string_view>

namespace siteplane {

inline std::string toLowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace siteplane
