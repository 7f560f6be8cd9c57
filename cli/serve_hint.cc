#include "cli/serve_hint.h"

#include <chrono>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include "dataplane/tls/server_context.h"

namespace siteplane::cli {

void printHowToTry(const table::BindingTable& table, const certs::CertificateStore& certificates,
                   std::ostream& out) {
  std::set<std::string> lines;
  for (const auto& listener : table.listeners()) {
    const auto& key = listener->key();
    std::string ip = key.address == "*" ? "127.0.0.1" : key.address;
    std::string authority = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    for (const auto& route : listener->routes()) {
      bool wildcard = route.hostName.rfind("*.", 0) == 0;
      std::string host = route.hostName.empty() ? authority
                         : wildcard             ? "www" + route.hostName.substr(1)
                                                : route.hostName;
      std::string port = std::to_string(key.port);
      std::string resolve =
          route.hostName.empty() ? std::string() : " --resolve " + host + ":" + port + ":" + ip;
      if (listener->protocol() == table::Protocol::kHttps && route.tls) {
        lines.insert("curl --cacert " + certificates.chainPath(route.tls->name()).string() +
                     resolve + " https://" + host + ":" + port + "/");
      } else {
        lines.insert("curl" + resolve + " http://" + host + ":" + port + "/");
      }
    }
  }
  if (lines.empty()) {
    out << "siteplane: serving, no binding is programmed yet\n";
    return;
  }
  out << "siteplane: serving " << table.bindingCount() << " bindings; try:\n";
  for (const auto& line : lines) out << "  " << line << "\n";
  out.flush();
}

void printHowToTryOnceLive(const loop::DataPlane& dataPlane,
                           const certs::CertificateStore& certificates,
                           const std::atomic<bool>& stopping) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (stopping) return;
    if (auto table = dataPlane.currentTable()) {
      printHowToTry(*table, certificates, std::cout);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cout << "siteplane: serving; no binding is programmed yet\n" << std::flush;
}

}  // namespace siteplane::cli
