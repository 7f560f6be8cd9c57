#include <algorithm>
#include <iostream>
#include <sstream>

#include "cli/api_command.h"
#include "cli/column_printer.h"
#include "cli/commands.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::cli {
namespace {

using nlohmann::json;

struct DescribeOptions {
  ApiOptions api;
  std::string kind;
  std::string name;
};

std::string text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// The YAML of `value`, each line indented by `indent` spaces.
std::string indented(const json& value, int indent) {
  std::istringstream lines(manifest::emitYaml(value));
  std::string out;
  std::string line;
  while (std::getline(lines, line))
    out += std::string(static_cast<size_t>(indent), ' ') + line + "\n";
  return out;
}

void printMap(const char* title, const json& metadata, const char* key) {
  std::cout << title;
  if (!metadata.contains(key) || !metadata[key].is_object() || metadata[key].empty()) {
    std::cout << "<none>\n";
    return;
  }
  bool first = true;
  for (const auto& [name, value] : metadata[key].items()) {
    if (!first) std::cout << std::string(13, ' ');
    std::cout << name << "=" << text(value) << "\n";
    first = false;
  }
}

int describe(const DescribeOptions& options) {
  auto type = findResourceType(options.kind);
  if (!type) {
    std::cerr << "error: unknown resource type \"" << options.kind
              << "\" (sites, bindings, certificates, issuers)\n";
    return kExitUsage;
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  std::string ns = effectiveNamespace(options.api, **client);
  auto object = (*client)->call("GET", ApiClient::resourcePath(*type, ns, options.name));
  if (!object) return failWith(object.error().message);
  const json& metadata = (*object)["metadata"];
  std::cout << "Name:        " << text(metadata.value("name", json())) << "\n";
  std::cout << "Namespace:   " << text(metadata.value("namespace", json())) << "\n";
  std::cout << "Kind:        " << type->kind << "\n";
  printMap("Labels:      ", metadata, "labels");
  printMap("Annotations: ", metadata, "annotations");
  std::cout << "Created:     " << text(metadata.value("creationTimestamp", json())) << "\n";
  std::cout << "Generation:  " << text(metadata.value("generation", json())) << "\n";
  std::cout << "Spec:\n" << indented(object->value("spec", json::object()), 2);

  json status = object->value("status", json::object());
  json conditions = status.value("conditions", json::array());
  status.erase("conditions");
  std::cout << "Status:\n";
  if (!status.empty()) std::cout << indented(status, 2);
  std::cout << "Conditions:\n";
  if (conditions.empty()) {
    std::cout << "  <none>\n";
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"Type", "Status", "Reason", "ObservedGeneration", "LastTransitionTime", "Message"},
        {"----", "------", "------", "------------------", "------------------", "-------"}};
    for (const auto& condition : conditions) {
      rows.push_back({text(condition.value("type", json())),
                      text(condition.value("status", json())),
                      text(condition.value("reason", json())),
                      text(condition.value("observedGeneration", json())),
                      text(condition.value("lastTransitionTime", json())),
                      text(condition.value("message", json()))});
    }
    printColumns(std::cout, rows, 2, 2);
  }

  // Events about this object, the way kubectl describe lists them.
  std::string selector =
      "involvedObject.kind=" + type->kind + ",involvedObject.name=" + options.name;
  auto events = (*client)->call(
      "GET", "/api/v1/namespaces/" + ns + "/events?fieldSelector=" + queryEscape(selector));
  std::cout << "Events:";
  if (!events) {
    std::cout << " <unavailable: " << events.error().message << ">\n";
    return kExitOk;
  }
  json items = events->value("items", json::array());
  if (items.empty()) {
    std::cout << " <none>\n";
    return kExitOk;
  }
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"Type", "Reason", "Last Seen", "Count", "Message"},
      {"----", "------", "---------", "-----", "-------"}};
  for (const auto& event : items) {
    std::string seen = text(event.value("lastTimestamp", json()));
    if (seen.empty()) seen = text(event.value("eventTime", json()));
    rows.push_back({text(event.value("type", json())), text(event.value("reason", json())), seen,
                    text(event.value("count", json())), text(event.value("message", json()))});
  }
  printColumns(std::cout, rows, 2, 2);
  return kExitOk;
}

}  // namespace

void registerDescribeCommand(CLI::App& app) {
  auto options = std::make_shared<DescribeOptions>();
  auto* command = app.add_subcommand(
      "describe", "Show one object: metadata, spec, status, conditions and related events");
  command->add_option("kind", options->kind, "sites, bindings, certificates or issuers")
      ->required();
  command->add_option("name", options->name, "The object's name")->required();
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(describe(*options)); });
}

}  // namespace siteplane::cli
