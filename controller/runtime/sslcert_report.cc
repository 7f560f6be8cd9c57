#include "controller/runtime/sslcert_report.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "controller/runtime/explain_query.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::runtime {

bool SslCertFilter::matches(const SslCertEntry& entry) const {
  if (address && *address != entry.listener.address) return false;
  if (port && *port != entry.listener.port) return false;
  if (hostName) {
    // Table host names are lower-case without a trailing dot (BindingTable::Builder::add).
    std::string wanted = *hostName;
    if (!wanted.empty() && wanted.back() == '.') wanted.pop_back();
    std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (wanted != entry.hostName) return false;
  }
  return true;
}

Result<SslCertFilter> parseSslCertFilter(
    const std::multimap<std::string, std::string>& parameters) {
  if (Status checked = checkParameters(parameters, {"address", "port", "hostName"}); !checked)
    return checked;
  SslCertFilter filter;
  if (auto address = parameters.find("address"); address != parameters.end()) {
    if (address->second == "*") {
      filter.address = "*";
    } else if (auto normalized = normalizeAddress(address->second)) {
      filter.address = *normalized;
    } else {
      return Result<SslCertFilter>::error("address: \"" + address->second +
                                          "\" is not \"*\" or an IPv4 or IPv6 address");
    }
  }
  if (auto port = parameters.find("port"); port != parameters.end()) {
    auto number = parsePort("port", port->second);
    if (!number) return number.status();
    filter.port = *number;
  }
  if (auto hostName = parameters.find("hostName"); hostName != parameters.end())
    filter.hostName = hostName->second;
  return filter;
}

SslCertReport sslCertReport(const table::BindingTable* table, const ListenerErrors& closed,
                            const SslCertFilter& filter) {
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
      if (filter.matches(entry)) report.entries.push_back(std::move(entry));
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
