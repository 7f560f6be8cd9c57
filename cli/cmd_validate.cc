#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "controller/api/object.h"
#include "controller/manifest/manifest_loader.h"

namespace siteplane::cli {

int printLoadResult(const manifest::LoadResult& result) {
  if (!result.ok()) {
    for (const auto& error : result.errors) std::cerr << error.toString() << "\n";
    std::cerr << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors")
              << " in " << result.files.size() << (result.files.size() == 1 ? " file" : " files")
              << "\n";
    return kExitFailure;
  }
  for (const auto& object : result.objects()) std::cout << api::describe(object.object) << "\n";
  return kExitOk;
}

void registerValidateCommand(CLI::App& app) {
  auto* command = app.add_subcommand(
      "validate",
      "Check manifest files (YAML, recursively under directories): print every error as "
      "file:line:column and exit 1, or one line per object and exit 0");
  auto paths = std::make_shared<std::vector<std::string>>();
  command->add_option("paths", *paths, "Manifest files or directories")->required();
  command->callback([paths] {
    std::vector<std::filesystem::path> inputs(paths->begin(), paths->end());
    auto result = manifest::loadManifests(inputs);
    if (result.ok() && result.files.empty()) {
      std::cerr << "no manifest files (*.yaml, *.yml) found\n";
      setExitCode(kExitFailure);
      return;
    }
    setExitCode(printLoadResult(result));
  });
}

}  // namespace siteplane::cli
