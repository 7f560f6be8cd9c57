#include "controller/store/resource_version.h"

#include <charconv>

namespace siteplane::store {

std::optional<uint64_t> toResourceVersion(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<uint64_t> parseResourceVersion(std::string_view text) {
  auto value = toResourceVersion(text);
  if (!value) {
    return Status::error(ErrorCode::kInvalid,
                         "resourceVersion \"" + std::string(text) + "\" is not a decimal number");
  }
  return *value;
}

}  // namespace siteplane::store
