#include "common/object_key.h"

#include <functional>

namespace siteplane {
namespace {

constexpr size_t kMaxLabelLength = 63;

}  // namespace

std::string ObjectKey::toString() const { return kind + "/" + ns + "/" + name; }

std::string ObjectKey::namespacedName() const { return ns + "/" + name; }

size_t ObjectKeyHash::operator()(const ObjectKey& key) const noexcept {
  std::hash<std::string> hash;
  size_t seed = hash(key.kind);
  seed ^= hash(key.ns) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  seed ^= hash(key.name) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed;
}

Result<ObjectKey> ObjectKey::parse(std::string_view text) {
  size_t first = text.find('/');
  size_t second = first == std::string_view::npos ? first : text.find('/', first + 1);
  if (second == std::string_view::npos || text.find('/', second + 1) != std::string_view::npos) {
    return Status::error(ErrorCode::kInvalid,
                         "object key \"" + std::string(text) + "\": want Kind/namespace/name");
  }
  ObjectKey key{std::string(text.substr(0, first)),
                std::string(text.substr(first + 1, second - first - 1)),
                std::string(text.substr(second + 1))};
  if (!isValidKind(key.kind)) {
    return Status::error(ErrorCode::kInvalid, "object key \"" + std::string(text) + "\": \"" +
                                                  key.kind + "\" is not a valid kind");
  }
  if (!isDns1123Label(key.ns) || !isDns1123Label(key.name)) {
    return Status::error(ErrorCode::kInvalid, "object key \"" + std::string(text) +
                                                  "\": namespace and name must be DNS-1123 labels");
  }
  return key;
}

bool isValidKind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxLabelLength) return false;
  if (kind[0] < 'A' || kind[0] > 'Z') return false;
  for (char c : kind) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

}  // namespace siteplane
