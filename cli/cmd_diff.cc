#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "cli/manifest_input.h"
#include "controller/manifest/yaml_document.h"

extern char** environ;

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// diff's own convention: 0 no differences, 1 differences, anything else trouble.
constexpr int kExitDiffError = 2;

struct DiffOptions {
  ApiOptions api;
  std::vector<std::string> files;
};

// A temporary directory removed on scope exit.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "siteplane-diff-XXXXXX").string();
    if (char* made = ::mkdtemp(pattern.data()); made != nullptr) path = made;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

int runDiff(const fs::path& live, const fs::path& merged) {
  std::vector<std::string> args = {"diff", "-u", "-N", "-r", live.string(), merged.string()};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // main() ignores SIGPIPE and an ignored signal stays ignored across exec: give diff the default
  // back, so `siteplane diff | head` ends it quietly as it would end any diff.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &pipe);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, "diff", nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

int diff(const DiffOptions& options) {
  auto objects = readManifestObjects(options.files, options.api.nameSpace);
  if (!objects) return kExitDiffError;
  auto client = connectApi(options.api);
  if (!client) {
    std::cerr << "error: " << client.message() << "\n";
    return kExitDiffError;
  }
  ScratchDir scratch;
  if (scratch.path.empty()) {
    std::cerr << "error: cannot create a temporary directory\n";
    return kExitDiffError;
  }
  fs::create_directories(scratch.path / "live");
  fs::create_directories(scratch.path / "merged");
  for (const auto& object : *objects) {
    std::string path = ApiClient::resourcePath(object.type, object.nameSpace, object.name);
    auto live = (*client)->call("GET", path);
    if (!live && live.error().status != 404) {
      std::cerr << "error: " << object.file << ": " << live.error().message << "\n";
      return kExitDiffError;
    }
    // The server's dry-run apply gives the object as applying would leave it, defaults and
    // other managers' fields included, so the diff shows only what apply would change.
    auto merged = (*client)->call(
        "PATCH", path + "?fieldManager=" + std::string(kFieldManager) + "&force=true&dryRun=All",
        object.body.dump(), "application/apply-patch+yaml");
    if (!merged) {
      std::cerr << "error: " << object.file << ": " << merged.error().message << "\n";
      return kExitDiffError;
    }
    std::string fileName =
        "siteplane.io.v1alpha1." + object.type.kind + "." + object.nameSpace + "." + object.name;
    if (live) {
      std::ofstream(scratch.path / "live" / fileName)
          << manifest::emitYaml(withoutBookkeeping(*live));
    }
    std::ofstream(scratch.path / "merged" / fileName)
        << manifest::emitYaml(withoutBookkeeping(*merged));
  }
  std::cout.flush();
  int code = runDiff(scratch.path / "live", scratch.path / "merged");
  if (code != 0 && code != 1) {
    std::cerr << "error: running diff -u failed\n";
    return kExitDiffError;
  }
  return code;
}

}  // namespace

void registerDiffCommand(CLI::App& app) {
  auto options = std::make_shared<DiffOptions>();
  auto* command = app.add_subcommand(
      "diff",
      "Show what apply -f would change as a unified diff of live and applied objects; exit 0 "
      "when nothing, 1 when something would change, 2 on error");
  command->add_option("-f,--filename", options->files, "Manifest file, directory or -")->required();
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(diff(*options)); });
}

}  // namespace siteplane::cli
