#include "controller/api/object_key.h"

#include <vector>

namespace siteplane::api {

std::string ObjectKey::toString() const { return kind + "/" + namespaceName + "/" + name; }

std::string ObjectKey::namespacedName() const { return namespaceName + "/" + name; }

std::optional<ObjectKey> ObjectKey::parse(std::string_view text) {
  std::vector<std::string> parts;
  while (true) {
    size_t slash = text.find('/');
    parts.emplace_back(text.substr(0, slash));
    if (slash == std::string_view::npos) break;
    text.remove_prefix(slash + 1);
  }
  if (parts.size() != 3) return std::nullopt;
  for (const auto& part : parts) {
    if (part.empty()) return std::nullopt;
  }
  return ObjectKey{parts[0], parts[1], parts[2]};
}

size_t ObjectKeyHash::operator()(const ObjectKey& key) const noexcept {
  std::hash<std::string> hash;
  size_t seed = hash(key.kind);
  seed ^= hash(key.namespaceName) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  seed ^= hash(key.name) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed;
}

}  // namespace siteplane::api
