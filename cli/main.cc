#include <signal.h>

#include <iostream>

#include "cli/commands.h"

namespace siteplane::cli {
namespace {
int exitCode = kExitOk;
}  // namespace

void setExitCode(int code) { exitCode = code; }

}  // namespace siteplane::cli

int main(int argc, char** argv) {
  using namespace siteplane::cli;
  // Before any thread starts, for every command: a write to a connection its peer closed or reset
  // (an API client, a data-plane client, an upstream) must fail that write with EPIPE, never raise
  // SIGPIPE and end the process. libuv and OpenSSL write with write(2), which has no MSG_NOSIGNAL.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"siteplane — declarative HTTPS site hosting", "siteplane"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SITEPLANE_VERSION);

  registerVersionCommand(app);
  registerValidateCommand(app);
  registerServeCommand(app);
  registerApplyCommand(app);
  registerGetCommand(app);
  registerDescribeCommand(app);
  registerDeleteCommand(app);
  registerCertCommand(app);
  registerDiffCommand(app);
  registerWaitCommand(app);
  registerShowCommand(app);
  registerExplainCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  return exitCode;
}
