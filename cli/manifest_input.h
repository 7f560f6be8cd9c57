#pragma once

// Manifests given to apply, delete -f and diff -f: files, directories (recursively, *.yaml and
// *.yml) or "-" for standard input, validated locally with the same decoder the server uses, so
// an invalid manifest is reported as file:line:column with its field path before any request.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/client/api_client.h"

namespace siteplane::cli {

struct ManifestObject {
  ResourceType type;
  std::string nameSpace;
  std::string name;
  // The object as sent to the server: the manifest's fields with relative paths made absolute
  // (the server does not know the manifest's directory), without server-set metadata or status.
  nlohmann::json body;
  std::string file;
};

// Reads every input. On any error prints each one to stderr and returns nullopt. An object whose
// manifest names no namespace goes to `defaultNamespace` when that is non-empty (-n), else to
// "default".
std::optional<std::vector<ManifestObject>> readManifestObjects(
    const std::vector<std::string>& inputs, const std::string& defaultNamespace = "");

}  // namespace siteplane::cli
