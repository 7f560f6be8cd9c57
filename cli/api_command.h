#pragma once

// Options and helpers shared by the commands that talk to the API server (apply, get, describe,
// delete, diff, wait, ...).

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/client/api_client.h"
#include "common/status.h"

namespace siteplane::cli {

struct ApiOptions {
  std::string kubeconfig;  // --kubeconfig
  std::string state;       // --state: use <state>/kubeconfig
  std::string nameSpace;   // -n; empty = the kubeconfig context's namespace
  double timeoutSeconds = 30;
};

// Adds --kubeconfig, --state, --request-timeout and (when `withNamespace`) -n/--namespace.
void addApiOptions(CLI::App& command, ApiOptions& options, bool withNamespace = true);

// Loads the kubeconfig (search order in cli/client/kubeconfig.h) and makes a client.
Result<std::unique_ptr<ApiClient>> connectApi(const ApiOptions& options);

// -n if given, else the kubeconfig context's namespace.
std::string effectiveNamespace(const ApiOptions& options, const ApiClient& client);

// Prints "error: <message>" on stderr and returns kExitFailure.
int failWith(const std::string& message);

// An error about a query parameter ("port: ...", from the parsers the server shares) in the words
// of the command's flags ("--port: ..."); other messages pass through.
std::string inFlagWords(const std::string& message,
                        const std::map<std::string, std::string>& flagOf);

// "/path?name=value&..." with every value percent-encoded.
std::string withQuery(std::string path, const std::multimap<std::string, std::string>& parameters);

// The object without what the server rewrites on writes that change nothing a user declared
// (managedFields with their timestamps, resourceVersion, generation): what apply's "unchanged" and
// diff compare.
nlohmann::json withoutBookkeeping(nlohmann::json object);

// "binding.siteplane.io/contoso-https", the way kubectl names an object in its output.
std::string objectRef(const ResourceType& type, const std::string& name);

}  // namespace siteplane::cli
