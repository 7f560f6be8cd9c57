#include "cli/api_command.h"

#include <iostream>

#include "cli/commands.h"

namespace siteplane::cli {

void addApiOptions(CLI::App& command, ApiOptions& options, bool withNamespace) {
  command.add_option("--kubeconfig", options.kubeconfig,
                     "Kubeconfig to use (default: $KUBECONFIG, else <state>/kubeconfig with "
                     "--state, else ./.siteplane/kubeconfig)");
  command.add_option("--state", options.state,
                     "State directory of the `siteplane serve` to talk to (uses its kubeconfig)");
  command
      .add_option("--request-timeout", options.timeoutSeconds,
                  "Seconds to wait for each API request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  if (withNamespace) {
    command.add_option("-n,--namespace", options.nameSpace,
                       "Namespace (default: the kubeconfig context's, else \"default\")");
  }
}

Result<std::unique_ptr<ApiClient>> connectApi(const ApiOptions& options) {
  auto path = resolveKubeconfigPath(options.kubeconfig, options.state);
  auto config = Kubeconfig::load(path);
  if (!config) return config.status();
  auto timeout = std::chrono::milliseconds(static_cast<long>(options.timeoutSeconds * 1000));
  return ApiClient::create(*config, timeout);
}

std::string effectiveNamespace(const ApiOptions& options, const ApiClient& client) {
  return options.nameSpace.empty() ? client.config().nameSpace : options.nameSpace;
}

int failWith(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitFailure;
}

std::string inFlagWords(const std::string& message,
                        const std::map<std::string, std::string>& flagOf) {
  auto colon = message.find(':');
  if (colon == std::string::npos) return message;
  auto flag = flagOf.find(message.substr(0, colon));
  return flag == flagOf.end() ? message : flag->second + message.substr(colon);
}

std::string withQuery(std::string path, const std::multimap<std::string, std::string>& parameters) {
  char separator = '?';
  for (const auto& [name, value] : parameters) {
    path += separator + name + "=" + queryEscape(value);
    separator = '&';
  }
  return path;
}

nlohmann::json withoutBookkeeping(nlohmann::json object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return object;
  }
  for (const char* field : {"managedFields", "resourceVersion", "generation"}) {
    object["metadata"].erase(field);
  }
  return object;
}

std::string objectRef(const ResourceType& type, const std::string& name) {
  std::string kind = type.kind;
  for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kind + ".siteplane.io/" + name;
}

}  // namespace siteplane::cli
