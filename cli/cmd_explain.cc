#include <iostream>
#include <map>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "controller/manifest/yaml_document.h"
#include "controller/runtime/explain_query.h"

namespace siteplane::cli {
namespace {

using nlohmann::json;

struct ExplainOptions {
  ApiOptions api;
  std::string address = "127.0.0.1";
  std::string port;  // checked by parseExplainQuery, which also checks the server's copy
  std::optional<std::string> sni;
  std::optional<std::string> host;
  std::string clientCertificate = "none";
  std::string output = "text";  // text, json, yaml
};

// The API's parameter names -> this command's flags, so an error names what the user typed.
const std::map<std::string, std::string> kFlags = {{"address", "--address"},
                                                   {"port", "--port"},
                                                   {"sni", "--sni"},
                                                   {"host", "--host"},
                                                   {"clientCertificate", "--client-certificate"}};

std::string text(const json& value, const char* key) {
  return value.is_object() && value.contains(key) && value[key].is_string()
             ? value[key].get<std::string>()
             : std::string();
}

std::string routeText(const json& route) {
  std::string hostName = text(route, "hostName");
  return text(route, "binding") + " (" +
         (hostName.empty() ? std::string("no hostName: the default binding")
                           : "hostName " + hostName) +
         ")";
}

void printText(const json& answer) {
  const json& query = answer["query"];
  std::string sni = text(query, "sni");
  std::string host = text(answer, "hostHeader");
  std::cout << "Connection:   " << text(query, "address") << " port " << query.value("port", 0)
            << (sni.empty() ? std::string(", no SNI") : ", SNI " + sni)
            << (host.empty() ? std::string() : ", Host " + host) << "\n";
  std::cout << "Result:       " << text(answer, "summary") << "\n";
  if (answer["listener"].is_object()) {
    const json& listener = answer["listener"];
    std::string address = text(listener, "address");
    if (address.find(':') != std::string::npos) address = "[" + address + "]";
    std::cout << "Listener:     " << address << ":" << listener.value("port", 0) << " ("
              << text(listener, "protocol") << ")\n";
  }
  if (answer["certificate"].is_object()) {
    const json& certificate = answer["certificate"];
    std::cout << "Certificate:  " << text(certificate, "name") << ", hash "
              << text(certificate, "certificateHash") << ", min TLS "
              << text(certificate, "minTLSVersion") << ", client certificate "
              << text(certificate, "clientCertificate") << " (from binding "
              << routeText(answer["handshake"]) << ")\n";
  }
  if (answer["route"].is_object()) {
    std::cout << "Binding:      " << routeText(answer["route"]) << "\n";
  }
  if (answer["site"].is_object()) {
    const json& site = answer["site"];
    std::cout << "Site:         " << text(site, "name") << " (id " << site.value("siteId", 0)
              << "), requireSSL " << (site.value("requireSSL", false) ? "true" : "false")
              << (site.value("redirectHTTP", false) ? ", redirectHTTP" : "")
              << ", client certificate " << text(site, "clientCertificate") << "\n";
  }
  std::cout << "Table:        generation " << answer.value("generation", uint64_t{0})
            << (answer.value("live", false) ? "" : " (none live)") << "\n";
  std::cout << "Why:\n";
  size_t step = 0;
  for (const json& line : answer["steps"])
    std::cout << "  " << ++step << ". " << (line.is_string() ? line.get<std::string>() : "")
              << "\n";
}

int explain(const ExplainOptions& options) {
  std::multimap<std::string, std::string> parameters = {
      {"address", options.address},
      {"port", options.port},
      {"clientCertificate", options.clientCertificate}};
  if (options.sni) parameters.emplace("sni", *options.sni);
  if (options.host) parameters.emplace("host", *options.host);
  // Checked here with the server's own parser, so a typo costs no request.
  if (auto checked = runtime::parseExplainQuery(parameters); !checked) {
    std::cerr << "error: " << inFlagWords(checked.message(), kFlags) << "\n";
    return kExitUsage;
  }
  std::string path = withQuery("/runtime/explain", parameters);
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  auto result = (*client)->call("GET", path);
  if (!result) return failWith(inFlagWords(result.error().message, kFlags));
  json& answer = *result;
  if (!answer.is_object() || !answer.contains("steps") || !answer["steps"].is_array() ||
      !answer.contains("query"))
    return failWith("the API server's /runtime/explain answer has no steps");
  if (options.output == "json") {
    std::cout << answer.dump(4) << "\n";
  } else if (options.output == "yaml") {
    std::cout << manifest::emitYaml(answer);
  } else {
    printText(answer);
  }
  return kExitOk;
}

}  // namespace

void registerExplainCommand(CLI::App& app) {
  auto options = std::make_shared<ExplainOptions>();
  auto* command = app.add_subcommand(
      "explain",
      "Which listener, binding, certificate and site policy the live table picks for a "
      "connection (address, port, SNI, Host), what the client gets, and why");
  command
      ->add_option("--address", options->address,
                   "IP address the client connects to (an IPv4 or IPv6 literal)")
      ->capture_default_str();
  command->add_option("--port", options->port, "Port the client connects to (1-65535)")->required();
  command->add_option("--sni", options->sni,
                      "Server name the client sends in its TLS hello (default: none)");
  command->add_option("--host", options->host,
                      "Host header the client sends (default: the SNI name, else the address, "
                      "with the port unless 80/443, as curl sends it)");
  command
      ->add_option("--client-certificate", options->clientCertificate,
                   "Client certificate the client presents when asked: none, valid, "
                   "untrusted, expired or revoked")
      ->check(CLI::IsMember({"none", "valid", "untrusted", "expired"}))
      ->capture_default_str();
  command->add_option("-o,--output", options->output, "text, json or yaml")
      ->check(CLI::IsMember({"text", "json", "yaml"}))
      ->capture_default_str();
  addApiOptions(*command, options->api, false);
  command->callback([options] { setExitCode(explain(*options)); });
}

}  // namespace siteplane::cli
