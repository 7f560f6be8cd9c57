#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "cli/manifest_input.h"

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Marks what `apply --prune DIR` applied from DIR, so that a later prune of DIR deletes only the
// objects DIR declared before — not those applied from elsewhere by the same field manager.
constexpr const char* kAppliedFromAnnotation = "siteplane.io/applied-from";

struct ApplyOptions {
  ApiOptions api;
  std::vector<std::string> files;
  bool dryRun = false;
  bool prune = false;
};

bool managedBySiteplane(const json& object) {
  const json& metadata = object["metadata"];
  if (!metadata.contains("managedFields") || !metadata["managedFields"].is_array()) return false;
  for (const auto& entry : metadata["managedFields"]) {
    if (entry.is_object() && entry.value("manager", "") == kFieldManager) return true;
  }
  return false;
}

std::string annotation(const json& object, const char* key) {
  const json& metadata = object["metadata"];
  if (!metadata.contains("annotations") || !metadata["annotations"].is_object()) return "";
  auto it = metadata["annotations"].find(key);
  return it != metadata["annotations"].end() && it->is_string() ? it->get<std::string>() : "";
}

int prune(const ApiClient& client, const std::string& source,
          const std::set<std::tuple<std::string, std::string, std::string>>& declared,
          const std::string& dryRunQuery) {
  int failures = 0;
  for (const auto& type : resourceTypes()) {
    auto list = client.call("GET", ApiClient::resourcePath(type, ""));
    if (!list) {
      std::cerr << "error: listing " << type.plural << " to prune: " << list.error().message
                << "\n";
      ++failures;
      continue;
    }
    for (const auto& item : (*list)["items"]) {
      std::string ns = item["metadata"].value("namespace", "default");
      std::string name = item["metadata"].value("name", "");
      if (declared.count({type.kind, ns, name}) != 0) continue;
      if (annotation(item, kAppliedFromAnnotation) != source || !managedBySiteplane(item)) continue;
      auto deleted = client.call("DELETE", ApiClient::resourcePath(type, ns, name) + dryRunQuery);
      if (!deleted) {
        std::cerr << "error: pruning " << objectRef(type, name) << ": " << deleted.error().message
                  << "\n";
        ++failures;
        continue;
      }
      std::cout << objectRef(type, name) << " pruned" << (dryRunQuery.empty() ? "" : " (dry run)")
                << "\n";
    }
  }
  return failures;
}

int apply(const ApplyOptions& options) {
  std::string pruneSource;
  if (options.prune) {
    if (options.files.size() != 1 || options.files.front() == "-" ||
        !fs::is_directory(options.files.front())) {
      std::cerr << "error: --prune needs exactly one directory in -f\n";
      return kExitUsage;
    }
    std::error_code error;
    pruneSource = fs::weakly_canonical(options.files.front(), error).string();
    if (error) pruneSource = fs::absolute(options.files.front()).string();
  }
  auto objects = readManifestObjects(options.files, options.api.nameSpace);
  if (!objects) return kExitFailure;
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  std::string dryRunQuery = options.dryRun ? "?dryRun=All" : "";
  std::string dryRunSuffix = options.dryRun ? " (dry run)" : "";

  int failures = 0;
  std::set<std::tuple<std::string, std::string, std::string>> declared;
  for (auto& object : *objects) {
    if (!options.api.nameSpace.empty() && object.nameSpace != options.api.nameSpace) {
      // -n fills in a namespace the manifest leaves out; one the manifest names wins, and a
      // mismatch is the user's mistake to see, as kubectl treats it.
      std::cerr << "error: " << object.file << ": " << object.type.kind << " \"" << object.name
                << "\" is in namespace \"" << object.nameSpace << "\", not \""
                << options.api.nameSpace << "\"\n";
      ++failures;
      continue;
    }
    declared.insert({object.type.kind, object.nameSpace, object.name});
    if (options.prune) {
      object.body["metadata"]["annotations"][kAppliedFromAnnotation] = pruneSource;
    }
    std::string path = ApiClient::resourcePath(object.type, object.nameSpace, object.name);
    auto before = (*client)->call("GET", path);
    if (!before && before.error().status != 404) {
      std::cerr << "error: " << object.file << ": " << before.error().message << "\n";
      ++failures;
      continue;
    }
    std::string query = "?fieldManager=" + std::string(kFieldManager) + "&force=true";
    if (options.dryRun) query += "&dryRun=All";
    auto after =
        (*client)->call("PATCH", path + query, object.body.dump(), "application/apply-patch+yaml");
    if (!after) {
      std::cerr << "error: " << object.file << ": " << after.error().message << "\n";
      ++failures;
      continue;
    }
    std::string verb = "created";
    if (before) {
      // Compared without bookkeeping: the server may store a no-op apply with a fresh
      // managedFields timestamp, which is not a change the user made.
      verb = withoutBookkeeping(*before) == withoutBookkeeping(*after) ? "unchanged" : "configured";
    }
    std::cout << objectRef(object.type, object.name) << " " << verb << dryRunSuffix << "\n";
  }
  if (options.prune && failures == 0) {
    failures += prune(**client, pruneSource, declared, dryRunQuery);
  }
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void registerApplyCommand(CLI::App& app) {
  auto options = std::make_shared<ApplyOptions>();
  auto* command = app.add_subcommand(
      "apply",
      "Create or update objects from manifests with server-side apply (field manager "
      "\"siteplane\")");
  command
      ->add_option("-f,--filename", options->files,
                   "Manifest file, directory (recursive *.yaml/*.yml) or - for stdin")
      ->required();
  command->add_flag("--dry-run", options->dryRun,
                    "Validate on the server and report what would change, storing nothing");
  command->add_flag("--prune", options->prune,
                    "With one directory: delete objects an earlier `apply --prune` of the same "
                    "directory created that it no longer declares");
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(apply(*options)); });
}

}  // namespace siteplane::cli
