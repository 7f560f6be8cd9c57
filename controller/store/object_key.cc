#include "controller/store/object_key.h"

namespace siteplane::store {
namespace {

constexpr size_t kMaxLabelLength = 63;

}  // namespace

std::string ObjectKey::toString() const { return kind + "/" + ns + "/" + name; }

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

}  // namespace siteplane::store
