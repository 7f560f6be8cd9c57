#include <iostream>
#include <thread>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "controller/api/duration.h"

namespace siteplane::cli {
namespace {

using nlohmann::json;

struct WaitOptions {
  ApiOptions api;
  std::string forWhat;  // condition=Ready, condition=Ready=False, delete
  std::string target;   // kind/name
  std::string timeout = "30s";
};

// How often the object is re-read. Polling keeps the client simple; a watch would answer sooner
// but the conditions we wait for change on reconcile, which takes longer than this.
constexpr auto kPollInterval = std::chrono::milliseconds(200);

int waitFor(const WaitOptions& options) {
  size_t slash = options.target.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == options.target.size()) {
    std::cerr << "error: expected KIND/NAME, got \"" << options.target << "\"\n";
    return kExitUsage;
  }
  auto type = findResourceType(options.target.substr(0, slash));
  if (!type) {
    std::cerr << "error: unknown resource type \"" << options.target.substr(0, slash)
              << "\" (sites, bindings, certificates, issuers)\n";
    return kExitUsage;
  }
  std::string name = options.target.substr(slash + 1);
  bool forDelete = options.forWhat == "delete";
  std::string conditionType;
  std::string wantedStatus = "True";
  if (!forDelete) {
    constexpr std::string_view kPrefix = "condition=";
    if (options.forWhat.rfind(kPrefix, 0) != 0 || options.forWhat.size() == kPrefix.size()) {
      std::cerr << "error: --for must be condition=TYPE[=STATUS] or delete, got \""
                << options.forWhat << "\"\n";
      return kExitUsage;
    }
    conditionType = options.forWhat.substr(kPrefix.size());
    if (size_t eq = conditionType.find('='); eq != std::string::npos) {
      wantedStatus = conditionType.substr(eq + 1);
      conditionType.resize(eq);
    }
  }
  auto timeout = api::parseDuration(options.timeout);
  if (!timeout) {
    std::cerr << "error: --timeout: " << timeout.message() << "\n";
    return kExitUsage;
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  std::string path =
      ApiClient::resourcePath(*type, effectiveNamespace(options.api, **client), name);
  auto deadline = std::chrono::steady_clock::now() + *timeout;
  std::string lastSeen = "not observed yet";
  while (true) {
    auto object = (*client)->call("GET", path);
    if (forDelete) {
      if (!object && object.error().status == 404) {
        std::cout << objectRef(*type, name) << " deleted\n";
        return kExitOk;
      }
      if (!object) return failWith(object.error().message);
      lastSeen = "still exists";
    } else {
      if (!object) return failWith(object.error().message);
      json conditions = json::array();
      if (object->contains("status") && (*object)["status"].is_object()) {
        conditions = (*object)["status"].value("conditions", json::array());
      }
      for (const auto& condition : conditions) {
        if (!condition.is_object() || condition.value("type", "") != conditionType) continue;
        std::string status = condition.value("status", "");
        lastSeen = conditionType + "=" + status + " (" + condition.value("reason", "") + ": " +
                   condition.value("message", "") + ")";
        if (status == wantedStatus) {
          std::cout << objectRef(*type, name) << " condition met\n";
          return kExitOk;
        }
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return failWith("timed out after " + options.timeout + " waiting for " +
                      (forDelete ? std::string("deletion") : conditionType + "=" + wantedStatus) +
                      " on " + objectRef(*type, name) + "; last seen: " + lastSeen);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

void registerWaitCommand(CLI::App& app) {
  auto options = std::make_shared<WaitOptions>();
  auto* command = app.add_subcommand(
      "wait", "Wait until an object's condition has a status (default True), or it is deleted");
  command->add_option("--for", options->forWhat, "condition=TYPE[=STATUS] or delete")->required();
  command->add_option("target", options->target, "KIND/NAME, e.g. binding/web-https")->required();
  command->add_option("--timeout", options->timeout, "How long to wait, e.g. 30s, 2m")
      ->capture_default_str();
  addApiOptions(*command, options->api);
  command->callback([options] { setExitCode(waitFor(*options)); });
}

}  // namespace siteplane::cli
