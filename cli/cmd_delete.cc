#include <iostream>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "cli/manifest_input.h"

namespace siteplane::cli {
namespace {

struct DeleteOptions {
  ApiOptions api;
  std::string kind;
  std::vector<std::string> names;
  std::vector<std::string> files;
  bool ignoreNotFound = false;
  bool dryRun = false;
};

struct Target {
  ResourceType type;
  std::string nameSpace;
  std::string name;
};

int remove(const DeleteOptions& options) {
  std::vector<Target> targets;
  if (!options.files.empty()) {
    if (!options.kind.empty()) {
      std::cerr << "error: give either KIND NAME... or -f, not both\n";
      return kExitUsage;
    }
    auto objects = readManifestObjects(options.files, options.api.nameSpace);
    if (!objects) return kExitFailure;
    for (const auto& object : *objects) {
      targets.push_back({object.type, object.nameSpace, object.name});
    }
  } else {
    auto type = findResourceType(options.kind);
    if (options.kind.empty() || options.names.empty()) {
      std::cerr << "error: give KIND NAME... or -f FILE\n";
      return kExitUsage;
    }
    if (!type) {
      std::cerr << "error: unknown resource type \"" << options.kind
                << "\" (sites, bindings, certificates, issuers)\n";
      return kExitUsage;
    }
    for (const auto& name : options.names) targets.push_back({*type, "", name});
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  std::string query = options.dryRun ? "?dryRun=All" : "";
  int failures = 0;
  for (auto& target : targets) {
    if (target.nameSpace.empty()) target.nameSpace = effectiveNamespace(options.api, **client);
    auto result = (*client)->call(
        "DELETE", ApiClient::resourcePath(target.type, target.nameSpace, target.name) + query);
    if (!result) {
      if (result.error().status == 404 && options.ignoreNotFound) continue;
      std::cerr << "error: " << objectRef(target.type, target.name) << ": "
                << result.error().message << "\n";
      ++failures;
      continue;
    }
    std::cout << objectRef(target.type, target.name) << " deleted"
              << (options.dryRun ? " (dry run)" : "") << "\n";
  }
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void registerDeleteCommand(CLI::App& app) {
  auto options = std::make_shared<DeleteOptions>();
  auto* command =
      app.add_subcommand("delete", "Delete objects by kind and name, or those a manifest declares");
  command->add_option("kind", options->kind, "sites, bindings, certificates or issuers");
  command->add_option("names", options->names, "Names of the objects to delete");
  command->add_option("-f,--filename", options->files,
                      "Delete the objects declared in these manifests (file, directory or -)");
  command->add_flag("--ignore-not-found", options->ignoreNotFound,
                    "An object that does not exist is not an error");
  command->add_flag("--dry-run", options->dryRun, "Check the deletion without doing it");
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(remove(*options)); });
}

}  // namespace siteplane::cli
