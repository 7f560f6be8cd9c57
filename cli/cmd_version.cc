#include <iostream>

#include "cli/api_command.h"
#include "cli/commands.h"

namespace siteplane::cli {
namespace {

struct VersionOptions {
  ApiOptions api;
  bool clientOnly = false;
};

int version(const VersionOptions& options) {
  std::cout << "Client Version: " << SITEPLANE_VERSION << "\n";
  if (options.clientOnly) return kExitOk;
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  auto server = (*client)->call("GET", "/version");
  if (!server) return failWith(server.error().message);
  std::string text = server->is_object() ? server->value("gitVersion", "") : "";
  if (text.empty()) return failWith("the API server's /version has no gitVersion");
  std::cout << "Server Version: " << text << "\n";
  return kExitOk;
}

}  // namespace

void registerVersionCommand(CLI::App& app) {
  auto options = std::make_shared<VersionOptions>();
  auto* command = app.add_subcommand(
      "version", "Print the siteplane version, and the API server's unless --client");
  command->add_flag("--client", options->clientOnly, "Only the client version; no server needed");
  addApiOptions(*command, options->api, false);
  command->callback([options] { setExitCode(version(*options)); });
}

}  // namespace siteplane::cli
