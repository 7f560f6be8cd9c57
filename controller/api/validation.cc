#include "controller/api/validation.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

namespace siteplane::api {
namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isHostLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) { return isAlnum(c) || c == '-'; });
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

bool isDnsName(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  while (true) {
    size_t dot = text.find('.');
    if (!isHostLabel(text.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

bool isWildcardDnsName(std::string_view text) {
  return text.size() > 2 && text.substr(0, 2) == "*." && text.size() <= 253 &&
         isDnsName(text.substr(2));
}

bool isIPv4Address(std::string_view text) {
  std::string copy(text);
  in_addr address;
  return inet_pton(AF_INET, copy.c_str(), &address) == 1;
}

bool isIPv6Address(std::string_view text) {
  std::string copy(text);
  in6_addr address;
  return inet_pton(AF_INET6, copy.c_str(), &address) == 1;
}

bool isIPAddress(std::string_view text) { return isIPv4Address(text) || isIPv6Address(text); }

std::string canonicalListenAddress(std::string_view text) {
  std::string copy(text);
  char buffer[INET6_ADDRSTRLEN];
  in_addr v4;
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    if (v4.s_addr == htonl(INADDR_ANY)) return "*";
    return inet_ntop(AF_INET, &v4, buffer, sizeof buffer) ? std::string(buffer) : copy;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_UNSPECIFIED(&v6)) return "*";
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      // An IPv4 client reaches an IPv4 socket; a listener on ::ffff:a.b.c.d could take no one.
      std::memcpy(&v4.s_addr, &v6.s6_addr[12], 4);
      if (v4.s_addr == htonl(INADDR_ANY)) return "*";
      return inet_ntop(AF_INET, &v4, buffer, sizeof buffer) ? std::string(buffer) : copy;
    }
    return inet_ntop(AF_INET6, &v6, buffer, sizeof buffer) ? std::string(buffer) : copy;
  }
  return copy;
}

bool isLabelValue(std::string_view text) {
  if (text.empty()) return true;
  if (text.size() > 63 || !isAlnum(text.front()) || !isAlnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool isQualifiedName(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view name = text;
  if (slash != std::string_view::npos) {
    std::string_view prefix = text.substr(0, slash);
    name = text.substr(slash + 1);
    std::string lowered(prefix);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
    if (lowered != prefix || !isDnsName(prefix)) return false;
  }
  return !name.empty() && isLabelValue(name);
}

bool isConditionReason(std::string_view text) {
  if (text.empty()) return false;
  auto isLetter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!isLetter(text.front())) return false;
  if (!(isAlnum(text.back()) || text.back() == '_')) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return isAlnum(c) || c == '_' || c == ',' || c == ':'; });
}

// Optimal string alignment distance, case-insensitive: insertions, deletions, substitutions and
// transpositions of neighbours ("sepc" -> "spec" is one edit) each cost 1.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitution = previous[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closestMatch(std::string_view text,
                                        const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t bestDistance = 0;
  for (const auto& candidate : candidates) {
    if (equalsIgnoreCase(text, candidate)) return candidate;
    size_t distance = editDistance(text, candidate);
    // Up to a third of the longer word: "protocl" -> "protocol", "sitRef" -> "siteRef", but not
    // "name" -> "kind".
    size_t limit = std::max<size_t>(1, std::max(text.size(), candidate.size()) / 3);
    if (distance <= limit && (!best || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

}  // namespace siteplane::api
