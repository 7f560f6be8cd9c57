#pragma once

// Each `siteplane` command lives in its own cmd_<name>.cc and registers itself here. A command's
// callback returns the process exit code; errors are one line on stderr.

#include <CLI/CLI.hpp>

namespace siteplane::manifest {
struct LoadResult;
}

namespace siteplane::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure =
    1;                                // the operation failed (invalid manifest, server error, ...)
inline constexpr int kExitUsage = 2;  // bad arguments

// Sets the exit code main() returns once CLI11 has run the chosen command's callback.
void setExitCode(int code);

void registerVersionCommand(CLI::App& app);
void registerValidateCommand(CLI::App& app);
void registerServeCommand(CLI::App& app);
void registerApplyCommand(CLI::App& app);
void registerGetCommand(CLI::App& app);
void registerDescribeCommand(CLI::App& app);
void registerDeleteCommand(CLI::App& app);
void registerCertCommand(CLI::App& app);
void registerDiffCommand(CLI::App& app);
void registerWaitCommand(CLI::App& app);
void registerShowCommand(CLI::App& app);
void registerExplainCommand(CLI::App& app);

// Prints a manifest load: every error to stderr (returns kExitFailure), or one summary line per
// object to stdout (returns kExitOk). Shared by validate and serve.
int printLoadResult(const manifest::LoadResult& result);

}  // namespace siteplane::cli
