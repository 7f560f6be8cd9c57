#include "controller/apiserver/embedded_crds.h"
#include "controller/apiserver/yaml_body.h"

namespace siteplane::apiserver {

Result<ResourceRegistry> builtinResourceRegistry() {
  std::vector<nlohmann::json> crds;
  for (const auto& file : embeddedCrdFiles()) {
    auto crd = parseYamlBody(file.content);
    if (!crd) return Result<ResourceRegistry>::error(std::string(file.name) + ": " + crd.message());
    crds.push_back(std::move(crd).value());
  }
  auto registry = ResourceRegistry::fromCrds(crds);
  if (!registry) return registry;
  registry->add(ResourceRegistry::coreEventType());
  return registry;
}

}  // namespace siteplane::apiserver
