#pragma once

// The CustomResourceDefinitions from crds/, compiled into the binary at build time (see
// embed_crds.cmake), and the registry built from them.

#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/apiserver/resource_registry.h"

namespace siteplane::apiserver {

struct EmbeddedFile {
  const char* name;  // "siteplane.io_bindings.yaml"
  std::string_view content;
};

// Every crds/*.yaml file, in name order.
const std::vector<EmbeddedFile>& embeddedCrdFiles();

// The registry siteplane serves: the embedded CRDs plus the core v1 Event. Fails naming the file
// whose YAML or CRD content is malformed (a build of a broken crds/ file, caught by tests).
Result<ResourceRegistry> builtinResourceRegistry();

}  // namespace siteplane::apiserver
