#include <algorithm>
#include <iostream>
#include <map>
#include <optional>

#include "cli/api_command.h"
#include "cli/column_printer.h"
#include "cli/commands.h"
#include "controller/manifest/yaml_document.h"
#include "controller/runtime/sslcert_report.h"

namespace siteplane::cli {
namespace {

using nlohmann::json;

struct ShowOptions {
  ApiOptions api;
  std::string output = "list";  // list (netsh-like), table, json, yaml
  std::optional<std::string> address;
  std::optional<std::string> port;
  std::optional<std::string> hostName;
};

const std::map<std::string, std::string> kFlags = {
    {"address", "--address"}, {"port", "--port"}, {"hostName", "--hostname"}};

std::string authority(const json& entry) {
  std::string address = entry.value("address", "");
  if (address.find(':') != std::string::npos) address = "[" + address + "]";
  return address + ":" + std::to_string(entry.value("port", 0));
}

// netsh's wording: client certificates are negotiated or not; Require also refuses requests
// without one (403.7).
std::string negotiateClientCertificate(const json& entry) {
  std::string mode = entry.value("clientCertificate", "Ignore");
  if (mode == "Ignore") return "Disabled";
  return "Enabled (" + mode + ", " + std::to_string(entry.value("clientCAs", 0)) +
         " trusted CA(s))";
}

// One block per binding, as `netsh http show sslcert` prints HTTP.sys's SSL bindings.
void printList(const json& report) {
  const uint64_t generation = report.value("generation", uint64_t{0});
  std::cout << "\nSSL Certificate bindings:\n-------------------------\n\n";
  auto line = [](const std::string& label, const std::string& value) {
    std::string padded = label;
    padded.resize(std::max<size_t>(label.size(), 29), ' ');
    std::cout << "    " << padded << ": " << value << "\n";
  };
  for (const json& entry : report["sslcerts"]) {
    const std::string hostName = entry.value("hostName", "");
    if (hostName.empty()) {
      line("IP:port", authority(entry));
    } else {
      line("Hostname:port", hostName + ":" + std::to_string(entry.value("port", 0)));
      line("Listener", authority(entry));
    }
    if (!entry.value("listening", true))
      line("Listening", "No - " + entry.value("listenerError", std::string("not open")));
    line("Certificate Hash", entry.value("certificateHash", ""));
    line("Certificate Name", entry.value("certificate", ""));
    line("Certificate Store Name", entry.value("certificateStore", ""));
    if (!entry.value("importedFrom", "").empty())
      line("Imported From", entry.value("importedFrom", ""));
    line("Negotiate Client Certificate", negotiateClientCertificate(entry));
    line("Min TLS Version", entry.value("minTLSVersion", ""));
    if (entry.value("require128BitCiphers", false)) line("Require 128-Bit Ciphers", "Enabled");
    line("Site",
         entry.value("site", "") + " (id " + std::to_string(entry.value("siteId", 0)) + ")");
    line("Binding", entry.value("binding", "") + " (generation " +
                        std::to_string(entry.value("bindingGeneration", 0)) + ")");
    line("Table Generation", std::to_string(generation));
    std::cout << "\n";
  }
}

void printTable(const json& report) {
  std::vector<std::vector<std::string>> rows = {{"LISTENER", "HOSTNAME", "CERTIFICATE HASH",
                                                 "CERTIFICATE", "CLIENT CERT", "MIN TLS", "SITE",
                                                 "BINDING", "LISTENING", "GENERATION"}};
  const std::string generation = std::to_string(report.value("generation", uint64_t{0}));
  for (const json& entry : report["sslcerts"]) {
    std::string hostName = entry.value("hostName", "");
    rows.push_back({authority(entry), hostName.empty() ? "*" : hostName,
                    entry.value("certificateHash", ""), entry.value("certificate", ""),
                    entry.value("clientCertificate", ""), entry.value("minTLSVersion", ""),
                    entry.value("site", ""), entry.value("binding", ""),
                    entry.value("listening", true) ? "yes" : "no", generation});
  }
  printColumns(std::cout, rows);
}

int showSslCert(const ShowOptions& options) {
  std::multimap<std::string, std::string> parameters;
  if (options.address) parameters.emplace("address", *options.address);
  if (options.port) parameters.emplace("port", *options.port);
  if (options.hostName) parameters.emplace("hostName", *options.hostName);
  // Checked with the server's own parser, so a typo costs no request.
  if (auto checked = runtime::parseSslCertFilter(parameters); !checked) {
    std::cerr << "error: " << inFlagWords(checked.message(), kFlags) << "\n";
    return kExitUsage;
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  auto result = (*client)->call("GET", withQuery("/runtime/sslcert", parameters));
  if (!result) return failWith(inFlagWords(result.error().message, kFlags));
  json& report = *result;
  if (!report.is_object() || !report.contains("sslcerts") || !report["sslcerts"].is_array())
    return failWith("the API server's /runtime/sslcert answer has no sslcerts list");
  if (options.output == "json") {
    std::cout << report.dump(4) << "\n";
    return kExitOk;
  }
  if (options.output == "yaml") {
    std::cout << manifest::emitYaml(report);
    return kExitOk;
  }
  if (!report.value("live", false)) {
    std::cerr << "No binding table is live yet.\n";
    return kExitOk;
  }
  if (report["sslcerts"].empty()) {
    std::cerr << "There are no SSL bindings" << (parameters.empty() ? "" : " that match")
              << " in table generation " << report.value("generation", uint64_t{0}) << ".\n";
    return kExitOk;
  }
  if (options.output == "table") {
    printTable(report);
  } else {
    printList(report);
  }
  return kExitOk;
}

}  // namespace

void registerShowCommand(CLI::App& app) {
  auto* show = app.add_subcommand("show", "Show what the running data plane serves");
  show->require_subcommand(1);
  auto options = std::make_shared<ShowOptions>();
  auto* sslcert = show->add_subcommand(
      "sslcert",
      "The https bindings of the live binding table, like `netsh http show sslcert`: address or "
      "host name and port, certificate hash and store, client certificates, minimum TLS version, "
      "site, binding and table generation");
  sslcert
      ->add_option("-o,--output", options->output, "list (netsh-like blocks), table, json or yaml")
      ->check(CLI::IsMember({"list", "table", "json", "yaml"}))
      ->capture_default_str();
  sslcert->add_option("--address", options->address,
                      "Only bindings of the listener on this address (\"*\" or an IP literal)");
  sslcert->add_option("--port", options->port, "Only bindings on this port");
  sslcert->add_option(
      "--hostname", options->hostName,
      "Only the binding of this host name as bound (\"\" for default certificates)");
  addApiOptions(*sslcert, options->api, false);
  sslcert->callback([options] { setExitCode(showSslCert(*options)); });
}

}  // namespace siteplane::cli
