#pragma once

// Request bodies sent as YAML (`application/yaml`, and server-side apply's
// `application/apply-patch+yaml`) converted to the JSON form every other part of the API works
// on. JSON is a subset of YAML, so a JSON body (what kubectl sends) goes through unchanged.

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace siteplane::apiserver {

// One YAML document to JSON (controller/manifest's reader: YAML 1.2 core schema, size and
// alias limits). Fails with "request body:line:column: ..." for a syntax error, or when the
// body holds no document or more than one.
Result<nlohmann::json> parseYamlBody(std::string_view text);

}  // namespace siteplane::apiserver
