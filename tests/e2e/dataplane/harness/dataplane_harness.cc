// dataplane_harness — serves a binding table built in code from a JSON description, without the
// controller. The data plane's end-to-end tests and the benchmarks drive it with real curl,
// openssl s_client, wrk and h2load.
//
//   dataplane_harness --config table.json [--workers N] [--access-log w3c|json|off]
//                     [--drain-timeout-ms MS] [--header-timeout-ms MS] [--keepalive-timeout-ms MS]
//                     [--handshake-timeout-ms MS] [--max-header-bytes N] [--max-body-bytes N]
//                     [--max-connections N] [--log-level LEVEL]
//
// SIGHUP re-reads the file and publishes the new table (a file that fails to load changes nothing
// and prints "config_error ..."); SIGTERM/SIGINT drain and exit 0. After each publish is applied by
// every worker it prints, on stdout:
//   listener_error address=127.0.0.1 port=8443 error=127.0.0.1:8443: address already in use
//   ready generation=3 listeners=2 errors=1
//
// JSON format (relative paths resolve against the file's directory):
// {
//   "generation": 1,                       // optional; otherwise 1, 2, 3 ... per load
//   "sites": {
//     "main": {                            // becomes site "default/main"
//       "root": "www",                     // directory of static files
//       "upstream": "",                    // http://host:port instead of root
//       "requireSSL": false, "redirectHTTP": false, "httpsRedirectPort": 443,
//       "require128BitCiphers": false,
//       "clientCertificate": "Ignore",     // Ignore | Accept | Require
//       "clientCAFiles": ["ca.crt"],       // PEM, needed for Accept/Require
//       "minTLSVersion": "1.2"             // "1.2" | "1.3"
//     }
//   },
//   "certificates": {
//     "a": {"certificateFile": "a.crt", "privateKeyFile": "a.key"}   // PEM; chain after the leaf
//   },
//   "bindings": [
//     {"name": "b1", "site": "main", "protocol": "https", "address": "127.0.0.1",
//      "port": 8443, "hostName": "a.test", "certificate": "a"}
//   ]
// }
// "address" defaults to "*", "port" to 80/443, "hostName" to "" (any). A TLS context is built per
// (certificate, site) pair, since the site's SSL settings live in the context.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/logging.h"
#include "dataplane/loop/data_plane.h"
#include "dataplane/tls/server_context.h"

namespace {

using namespace siteplane;
namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> readText(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::error(what + ": cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

fs::path resolve(const fs::path& base, const std::string& path) {
  fs::path p(path);
  return p.is_absolute() ? p : base / p;
}

template <typename T>
T field(const json& object, const char* name, T fallback) {
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? fallback : it->get<T>();
}

Result<std::shared_ptr<const table::BindingTable>> load(const fs::path& file, uint64_t generation) {
  using Out = Result<std::shared_ptr<const table::BindingTable>>;
  auto text = readText(file, "config");
  if (!text) return text.status();
  const fs::path base = fs::absolute(file).parent_path();
  try {
    json config = json::parse(*text);
    generation = field<uint64_t>(config, "generation", generation);

    std::map<std::string, std::shared_ptr<table::SitePolicy>> sites;
    std::map<std::string, std::vector<std::string>> clientCAs;
    // Named locals: a range-for over items() of a temporary would dangle.
    const json siteSpecs = config.value("sites", json::object());
    const json certificateSpecs = config.value("certificates", json::object());
    const json bindingSpecs = config.value("bindings", json::array());
    for (auto& [name, spec] : siteSpecs.items()) {
      auto site = std::make_shared<table::SitePolicy>();
      site->name = "default/" + name;
      std::string root = field<std::string>(spec, "root", "");
      if (!root.empty()) site->root = fs::weakly_canonical(resolve(base, root));
      site->upstream = field<std::string>(spec, "upstream", "");
      site->requireSSL = field<bool>(spec, "requireSSL", false);
      site->redirectHTTP = field<bool>(spec, "redirectHTTP", false);
      const int64_t redirectPort = field<int64_t>(spec, "httpsRedirectPort", 443);
      if (redirectPort < 1 || redirectPort > 65535)
        return Out::error("sites." + name + ".httpsRedirectPort: must be 1..65535");
      site->httpsRedirectPort = static_cast<uint16_t>(redirectPort);
      site->require128BitCiphers = field<bool>(spec, "require128BitCiphers", false);
      std::string mode = field<std::string>(spec, "clientCertificate", "Ignore");
      if (mode == "Ignore")
        site->clientCertificate = table::ClientCertificateMode::kIgnore;
      else if (mode == "Accept")
        site->clientCertificate = table::ClientCertificateMode::kAccept;
      else if (mode == "Require")
        site->clientCertificate = table::ClientCertificateMode::kRequire;
      else
        return Out::error("sites." + name + ".clientCertificate: unknown mode '" + mode + "'");
      std::string version = field<std::string>(spec, "minTLSVersion", "1.2");
      if (version == "1.2")
        site->minTLSVersion = table::TlsVersion::k1_2;
      else if (version == "1.3")
        site->minTLSVersion = table::TlsVersion::k1_3;
      else
        return Out::error("sites." + name + ".minTLSVersion: must be \"1.2\" or \"1.3\"");
      const json caFiles = spec.value("clientCAFiles", json::array());
      for (const auto& caFile : caFiles) {
        auto pem =
            readText(resolve(base, caFile.get<std::string>()), "sites." + name + ".clientCAFiles");
        if (!pem) return pem.status();
        clientCAs[name].push_back(*pem);
      }
      sites[name] = site;
    }

    std::map<std::string, std::pair<std::string, std::string>> certificates;
    for (auto& [name, spec] : certificateSpecs.items()) {
      auto chain = readText(resolve(base, spec.at("certificateFile").get<std::string>()),
                            "certificates." + name + ".certificateFile");
      if (!chain) return chain.status();
      auto key = readText(resolve(base, spec.at("privateKeyFile").get<std::string>()),
                          "certificates." + name + ".privateKeyFile");
      if (!key) return key.status();
      certificates[name] = {*chain, *key};
    }

    std::map<std::pair<std::string, std::string>, std::shared_ptr<const tls::ServerContext>>
        contexts;
    table::BindingTable::Builder builder(generation);
    size_t index = 0;
    for (const auto& binding : bindingSpecs) {
      const std::string where = "bindings[" + std::to_string(index++) + "]";
      std::string siteName = binding.at("site").get<std::string>();
      auto site = sites.find(siteName);
      if (site == sites.end()) return Out::error(where + ".site: no site '" + siteName + "'");
      std::string protocol = field<std::string>(binding, "protocol", "http");
      if (protocol != "http" && protocol != "https")
        return Out::error(where + ".protocol: must be http or https");
      const bool https = protocol == "https";
      table::BindingTable::Entry entry;
      entry.protocol = https ? table::Protocol::kHttps : table::Protocol::kHttp;
      entry.listener.address = field<std::string>(binding, "address", "*");
      const int64_t port = field<int64_t>(binding, "port", https ? 443 : 80);
      if (port < 1 || port > 65535) return Out::error(where + ".port: must be 1..65535");
      entry.listener.port = static_cast<uint16_t>(port);
      entry.route.binding =
          "default/" + field<std::string>(binding, "name", "binding-" + std::to_string(index));
      entry.route.bindingGeneration = static_cast<int64_t>(generation);
      entry.route.hostName = field<std::string>(binding, "hostName", "");
      entry.route.site = site->second;
      if (https) {
        std::string certificate = field<std::string>(binding, "certificate", "");
        auto material = certificates.find(certificate);
        if (material == certificates.end())
          return Out::error(where + ".certificate: no certificate '" + certificate + "'");
        auto& context = contexts[{certificate, siteName}];
        if (!context) {
          tls::ServerContextOptions options;
          options.name = "default/" + certificate;
          options.certificateChainPem = material->second.first;
          options.privateKeyPem = material->second.second;
          options.minVersion = site->second->minTLSVersion;
          options.require128BitCiphers = site->second->require128BitCiphers;
          options.clientCertificate = site->second->clientCertificate;
          options.clientCAPems = clientCAs[siteName];
          auto created = tls::ServerContext::create(options);
          if (!created) return Out::error(where + ": " + created.message());
          context = *created;
        }
        entry.route.tls = context;
      }
      if (auto added = builder.add(std::move(entry)); !added)
        return Out::error(where + ": " + added.message());
    }
    return std::move(builder).build();
  } catch (const std::exception& error) {
    return Out::error(std::string("config: ") + error.what());
  }
}

void printLine(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"serves a binding table described in JSON", "dataplane_harness"};
  std::string configPath;
  std::string accessLog = "w3c";
  std::string logLevel = "info";
  loop::DataPlaneOptions options;
  long drainMs = 10000, headerMs = 10000, keepAliveMs = 60000, handshakeMs = 10000;
  app.add_option("--config", configPath, "JSON description of the table")->required();
  app.add_option("--workers", options.workers, "worker threads (0: one per core)");
  app.add_option("--access-log", accessLog, "w3c, json or off");
  app.add_option("--drain-timeout-ms", drainMs);
  app.add_option("--header-timeout-ms", headerMs);
  app.add_option("--keepalive-timeout-ms", keepAliveMs);
  app.add_option("--handshake-timeout-ms", handshakeMs);
  app.add_option("--max-header-bytes", options.limits.maxHeaderBytes);
  app.add_option("--max-body-bytes", options.limits.maxBodyBytes);
  app.add_option("--max-connections", options.limits.maxConnectionsPerWorker);
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error, off");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (!configureLogging(logLevel, LogFormat::kText)) {
    std::fprintf(stderr, "--log-level: unknown level '%s'\n", logLevel.c_str());
    return 2;
  }
  if (!http::parseAccessLogFormat(accessLog, options.accessLog)) {
    std::fprintf(stderr, "--access-log: must be w3c, json or off\n");
    return 2;
  }
  options.drainTimeout = std::chrono::milliseconds(drainMs);
  options.limits.headerTimeout = std::chrono::milliseconds(headerMs);
  options.limits.keepAliveTimeout = std::chrono::milliseconds(keepAliveMs);
  options.limits.handshakeTimeout = std::chrono::milliseconds(handshakeMs);

  uint64_t loads = 1;
  auto table = load(configPath, loads);
  if (!table) {
    printLine("config_error " + table.message());
    return 1;
  }

  // Signals are taken synchronously by this thread; the workers inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto plane = loop::DataPlane::create(options);
  if (!plane) {
    printLine("options_error " + plane.message());
    return 2;
  }
  if (auto started = (*plane)->start(); !started) {
    printLine("start_error " + started.message());
    return 1;
  }
  auto onApplied = [](const table::PublishReport& report) {
    size_t errors = 0;
    for (const auto& listener : report.listeners) {
      if (listener.listening) continue;
      ++errors;
      printLine("listener_error address=" + listener.key.address +
                " port=" + std::to_string(listener.key.port) + " error=" + listener.error);
    }
    printLine("ready generation=" + std::to_string(report.generation) + " listeners=" +
              std::to_string(report.listeners.size()) + " errors=" + std::to_string(errors));
  };
  (*plane)->publish(*table, onApplied);

  while (true) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received != SIGHUP) break;
    auto next = load(configPath, ++loads);
    if (!next) {
      printLine("config_error " + next.message());
      continue;
    }
    (*plane)->publish(*next, onApplied);
  }
  (*plane)->stop(options.drainTimeout);
  printLine("stopped");
  return 0;
}
