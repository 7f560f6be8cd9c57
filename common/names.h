#pragma once

// Names as Kubernetes spells them, checked in one place for every module that accepts one.

#include <string_view>

namespace siteplane {

// An RFC 1123 label as Kubernetes uses it for metadata.name and metadata.namespace:
// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. Also what makes a name safe as a file
// name in the state directory.
bool isDns1123Label(std::string_view text);

inline constexpr const char* kDns1123LabelRule =
    "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a "
    "letter or digit, at most 63 characters)";

}  // namespace siteplane
