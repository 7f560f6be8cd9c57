#include <iostream>

#include "cli/commands.h"

namespace siteplane::cli {

void registerVersionCommand(CLI::App& app) {
  auto* command = app.add_subcommand("version", "Print the siteplane version");
  command->callback([] { std::cout << "siteplane " << SITEPLANE_VERSION << "\n"; });
}

}  // namespace siteplane::cli
