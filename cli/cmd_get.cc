#include <algorithm>
#include <iostream>

#include "cli/api_command.h"
#include "cli/column_printer.h"
#include "cli/commands.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::cli {
namespace {

using nlohmann::json;

constexpr const char* kTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io";

struct GetOptions {
  ApiOptions api;
  std::string kind;
  std::string name;
  std::string output;  // "", wide, yaml, json, name
  bool allNamespaces = false;
  std::string selector;
};

std::string cellText(const json& cell) {
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_null()) return "<none>";
  return cell.dump();
}

// Prints a meta.k8s.io Table: priority-0 columns, all of them with -o wide, and a NAMESPACE
// column first with -A. Columns are padded to their widest cell plus three spaces, like kubectl.
void printTable(const json& table, bool wide, bool withNamespace) {
  std::vector<size_t> shown;
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header;
  if (withNamespace) header.push_back("NAMESPACE");
  const json& columns = table["columnDefinitions"];
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!wide && columns[i].value("priority", 0) != 0) continue;
    shown.push_back(i);
    std::string name = columns[i].value("name", "");
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    header.push_back(name);
  }
  lines.push_back(header);
  for (const auto& row : table["rows"]) {
    std::vector<std::string> line;
    if (withNamespace) {
      const json& object = row.contains("object") ? row["object"] : json::object();
      line.push_back(object.contains("metadata") ? object["metadata"].value("namespace", "")
                                                 : std::string());
    }
    for (size_t index : shown) {
      line.push_back(index < row["cells"].size() ? cellText(row["cells"][index]) : "");
    }
    lines.push_back(line);
  }
  printColumns(std::cout, lines);
}

int get(const GetOptions& options) {
  auto type = findResourceType(options.kind);
  if (!type) {
    std::cerr << "error: unknown resource type \"" << options.kind
              << "\" (sites, bindings, certificates, issuers)\n";
    return kExitUsage;
  }
  if (options.allNamespaces && !options.name.empty()) {
    std::cerr << "error: a NAME cannot be combined with -A/--all-namespaces\n";
    return kExitUsage;
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  std::string ns = options.allNamespaces ? "" : effectiveNamespace(options.api, **client);
  std::string path = ApiClient::resourcePath(*type, ns, options.name);
  if (!options.selector.empty()) path += "?labelSelector=" + queryEscape(options.selector);
  bool table = options.output.empty() || options.output == "wide";
  auto result = (*client)->call("GET", path, "", "", table ? kTableAccept : "application/json");
  if (!result) return failWith(result.error().message);
  json& body = *result;
  if (table) {
    if (body.value("kind", "") != "Table") return failWith("the API server did not send a Table");
    if (body["rows"].empty()) {
      std::cerr << "No resources found" << (ns.empty() ? "" : " in " + ns + " namespace") << ".\n";
      return kExitOk;
    }
    printTable(body, options.output == "wide", options.allNamespaces);
  } else if (options.output == "json") {
    std::cout << body.dump(4) << "\n";
  } else if (options.output == "yaml") {
    std::cout << manifest::emitYaml(body);
  } else {  // name
    const json items = body.contains("items") ? body["items"] : json::array({body});
    for (const auto& item : items) {
      std::cout << objectRef(*type, item["metadata"].value("name", "")) << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void registerGetCommand(CLI::App& app) {
  auto options = std::make_shared<GetOptions>();
  auto* command = app.add_subcommand(
      "get", "List objects of a kind, or show one, as a table with the CRD's printer columns");
  command->add_option("kind", options->kind, "sites, bindings, certificates or issuers")
      ->required();
  command->add_option("name", options->name, "One object's name");
  command->add_option("-o,--output", options->output, "wide, yaml, json or name")
      ->check(CLI::IsMember({"wide", "yaml", "json", "name"}));
  command->add_flag("-A,--all-namespaces", options->allNamespaces, "List across every namespace");
  command->add_option("-l,--selector", options->selector, "Label selector, e.g. app=web");
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(get(*options)); });
}

}  // namespace siteplane::cli
