#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane::store {

// resourceVersion is one counter across the whole store, shown to clients as a decimal string
// (clients must treat it as opaque; the store and its tests may compare the numbers).
inline std::string formatResourceVersion(uint64_t version) { return std::to_string(version); }

// The number behind a resourceVersion string; nullopt unless it is a plain decimal that fits.
std::optional<uint64_t> toResourceVersion(std::string_view text);

// Like toResourceVersion, for a request parameter: Invalid naming the text when it is not one.
Result<uint64_t> parseResourceVersion(std::string_view text);

}  // namespace siteplane::store
