#include "controller/apiserver/yaml_body.h"

#include "controller/manifest/yaml_document.h"

namespace siteplane::apiserver {

Result<nlohmann::json> parseYamlBody(std::string_view text) {
  manifest::YamlParseResult parsed = manifest::parseYaml(text, "request body");
  if (!parsed.ok()) {
    std::string message;
    for (const auto& error : parsed.errors) {
      if (!message.empty()) message += "; ";
      message += error.toString();
    }
    return Result<nlohmann::json>::error(message);
  }
  if (parsed.documents.empty()) return Result<nlohmann::json>::error("the body is empty");
  if (parsed.documents.size() > 1) {
    return Result<nlohmann::json>::error("the body holds " +
                                         std::to_string(parsed.documents.size()) +
                                         " YAML documents; send one object per request");
  }
  return std::move(parsed.documents.front().value);
}

}  // namespace siteplane::apiserver
