#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/logging.h"
#include "controller/manifest/manifest_loader.h"

namespace siteplane::cli {
namespace {

struct ServeOptions {
  std::string manifests;
  std::string state;
  std::string logLevel = "info";
  std::string logFormat = "text";
};

int serve(const ServeOptions& options) {
  if (!configureLogging(options.logLevel,
                        options.logFormat == "json" ? LogFormat::kJson : LogFormat::kText)) {
    std::cerr << "unknown --log-level \"" << options.logLevel
              << "\" (trace, debug, info, warn, error, critical, off)\n";
    return kExitUsage;
  }
  auto log = logger("cli.serve");
  auto result = manifest::loadManifests({options.manifests});
  int code = printLoadResult(result);
  if (code != kExitOk) return code;
  log->info("manifests_loaded dir={} files={} objects={}", options.manifests, result.files.size(),
            result.objects().size());
  std::cout << "loaded " << result.objects().size() << " objects from " << result.files.size()
            << " files in " << options.manifests
            << "; serving is not available yet in this build (state dir " << options.state
            << ")\n";
  return kExitOk;
}

}  // namespace

void registerServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand("serve", "Serve the sites declared in a manifest directory");
  command->add_option("--manifests", options->manifests, "Directory of manifest files")
      ->required();
  command->add_option("--state", options->state, "Directory for persistent state")->required();
  command->add_option("--log-level", options->logLevel,
                      "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  command->add_option("--log-format", options->logFormat, "Log line format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->callback([options] { setExitCode(serve(*options)); });
}

}  // namespace siteplane::cli
