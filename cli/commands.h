#pragma once

// Each `siteplane` command lives in its own cmd_<name>.cc and registers itself here. A command's
// callback returns the process exit code; errors are one line on stderr.

#include <CLI/CLI.hpp>

namespace siteplane::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed (invalid manifest, server error, ...)
inline constexpr int kExitUsage = 2;    // bad arguments

// Sets the exit code main() returns once CLI11 has run the chosen command's callback.
void setExitCode(int code);

void registerVersionCommand(CLI::App& app);

}  // namespace siteplane::cli
