#pragma once

// `siteplane show sslcert`: the https bindings of the binding table the data plane serves right
// now, one entry per binding as `netsh http show sslcert` lists HTTP.sys's SSL bindings. It reads
// the live table (DataPlane::currentTable), never the spec, so what it shows is what a client
// gets: the certificate hash is the thumbprint of the TLS context in the table.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/runtime/listener_errors.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::runtime {

struct SslCertEntry {
  table::ListenerKey listener;
  std::string hostName;       // "" for the listener's default certificate (netsh's IP:port binding)
  bool listening = true;      // false: the data plane could not open the listener ...
  std::string listenerError;  // ... and this says why
  std::string binding;        // "namespace/name"
  int64_t bindingGeneration = 0;
  std::string site;  // "namespace/name"
  int64_t siteId = 0;
  std::string certificate;   // the Certificate ("namespace/name") the TLS context was built from
  std::string thumbprint;    // SHA-1 of the leaf served, upper-case hex
  std::string keyStorePath;  // the key in siteplane's certificate store
  std::string importedFrom;  // the file an imported certificate came from, "" when issued
  // What the handshake does (from the TLS context; the site's SSL settings built it).
  table::ClientCertificateMode clientCertificate = table::ClientCertificateMode::kIgnore;
  size_t clientCAs = 0;
  table::TlsVersion minTLSVersion = table::TlsVersion::k1_2;
  bool require128BitCiphers = false;
};

struct SslCertReport {
  bool live = false;                  // a table is live (false before the first publish)
  uint64_t generation = 0;            // of the live table
  size_t bindings = 0;                // every binding of the table, http included
  std::vector<SslCertEntry> entries;  // https bindings, by address, port, then host name
};

// Which bindings to list, as netsh's `show sslcert ipport=... hostnameport=...` narrows its
// output: every field that is set must match.
struct SslCertFilter {
  std::optional<std::string> address;  // the listener's: "*" or a normalized IP literal
  std::optional<uint16_t> port;
  std::optional<std::string> hostName;  // as bound, any case: "www.contoso.com", "*.contoso.com",
                                        // "" for default certificates
  bool matches(const SslCertEntry& entry) const;
};

// Parameters address, port, hostName of GET /runtime/sslcert (and show sslcert's flags); errors
// name the parameter.
Result<SslCertFilter> parseSslCertFilter(const std::multimap<std::string, std::string>& parameters);

// The report of `table` (null: nothing live yet); `closed` are its listeners that are not open.
SslCertReport sslCertReport(const table::BindingTable* table, const ListenerErrors& closed = {},
                            const SslCertFilter& filter = {});

// The JSON GET /runtime/sslcert answers (field names in controller/runtime/README.md).
nlohmann::json toJson(const SslCertReport& report);

}  // namespace siteplane::runtime
