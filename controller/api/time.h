#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace siteplane::api {

// Object timestamps (creationTimestamp, lastTransitionTime, notAfter, ...) have one-second
// resolution, as in Kubernetes' metav1.Time.
using Time = std::chrono::sys_seconds;

// Parses RFC 3339 ("2026-11-25T06:39:51Z", "2026-11-25T07:39:51.25+01:00"); fractional seconds
// are truncated.
Result<Time> parseTime(std::string_view text);

// RFC 3339 in UTC with a "Z" suffix: "2026-11-25T06:39:51Z".
std::string formatTime(Time time);

// The current time truncated to seconds.
Time now();
// The clock's wall time truncated to seconds.
Time now(const Clock& clock);

}  // namespace siteplane::api
