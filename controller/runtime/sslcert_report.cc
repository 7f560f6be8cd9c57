#include "controller/runtime/sslcert_report.h"

#include <algorithm>
#include <tuple>

#include "dataplane/tls/server_context.h"

namespace siteplane::runtime {

SslCertReport sslCertReport(const table::BindingTable* table, const ListenerErrors& closed) {
  SslCertReport report;
  if (!table) return report;
  report.live = true;
  report.generation = table->generation();
  report.bindings = table->bindingCount();
  for (const auto& listener : table->listeners()) {
    if (listener->protocol() != table::Protocol::kHttps) continue;
    auto error = closed.find(listener->key());
    for (const table::Route& route : listener->routes()) {
      // The Builder refuses https routes without a context; skip rather than crash if one slips by.
      if (!route.tls) continue;
      const tls::ServerContextOptions& options = route.tls->options();
      SslCertEntry entry;
      entry.listener = listener->key();
      entry.hostName = route.hostName;
      if (error != closed.end()) {
        entry.listening = false;
        entry.listenerError = error->second;
      }
      entry.binding = route.binding;
      entry.bindingGeneration = route.bindingGeneration;
      entry.site = route.site->name;
      entry.siteId = route.site->siteId;
      entry.certificate = route.tls->name();
      entry.thumbprint = route.tls->thumbprint();
      entry.keyStorePath = options.keyStorePath;
      entry.importedFrom = options.importedFrom;
      entry.clientCertificate = options.clientCertificate;
      entry.clientCAs = options.clientCAPems.size();
      entry.minTLSVersion = options.minVersion;
      entry.require128BitCiphers = options.require128BitCiphers;
      report.entries.push_back(std::move(entry));
    }
  }
  // The table keeps listeners in build order; a listing reads best sorted, default binding first.
  std::sort(report.entries.begin(), report.entries.end(),
            [](const SslCertEntry& a, const SslCertEntry& b) {
              return std::tie(a.listener.address, a.listener.port, a.hostName) <
                     std::tie(b.listener.address, b.listener.port, b.hostName);
            });
  return report;
}

nlohmann::json toJson(const SslCertReport& report) {
  nlohmann::json entries = nlohmann::json::array();
  for (const SslCertEntry& entry : report.entries) {
    entries.push_back({
        {"address", entry.listener.address},
        {"port", entry.listener.port},
        {"hostName", entry.hostName},
        {"listening", entry.listening},
        {"listenerError", entry.listenerError},
        {"binding", entry.binding},
        {"bindingGeneration", entry.bindingGeneration},
        {"site", entry.site},
        {"siteId", entry.siteId},
        {"certificate", entry.certificate},
        {"certificateHash", entry.thumbprint},
        {"certificateStore", entry.keyStorePath},
        {"importedFrom", entry.importedFrom},
        {"clientCertificate", table::toString(entry.clientCertificate)},
        {"clientCAs", entry.clientCAs},
        {"minTLSVersion", table::toString(entry.minTLSVersion)},
        {"require128BitCiphers", entry.require128BitCiphers},
    });
  }
  return {{"live", report.live},
          {"generation", report.generation},
          {"bindings", report.bindings},
          {"sslcerts", std::move(entries)}};
}

}  // namespace siteplane::runtime
