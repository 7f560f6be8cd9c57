#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane::api {

using Duration = std::chrono::seconds;

// Parses a Go-style duration as cert-manager accepts it, extended with days: a sequence of
// <integer><unit> with units d, h, m, s ("90d", "2160h", "30m", "1h30m", "45s"). Units may repeat
// in any order, as Go allows; the total must fit in 100 years. Sub-second units are rejected
// because certificates are scheduled in whole seconds.
Result<Duration> parseDuration(std::string_view text);

// The canonical form: hours, minutes, seconds without zero components ("2160h", "1h30m", "45s",
// "0s"). parseDuration(formatDuration(d)) == d.
std::string formatDuration(Duration duration);

}  // namespace siteplane::api
