#pragma once

// `siteplane explain`: which listener, binding, certificate and site policy win for one
// connection (address, port, SNI, Host) in the live binding table, what the client gets, and why,
// one line per step of the decision.
//
// It decides through the data plane's own functions, never a copy of them:
//   listener   BindingTable::listenerFor      (exact address, else "*"; none: connection refused;
//                                              one the data plane could not open accepts nothing)
//   handshake  BindingTable::handshakeRoute   (SNI -> certificate, default binding,
//   unrecognized_name) request    http::dispatch                 (Host -> site, 400/421/403.x/301,
//   what is served)
// so an explanation cannot drift from what a client is served. The request is `GET /` with the
// given Host; for https, a client that offers every TLS version and cipher the context allows.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/runtime/explain_query.h"
#include "controller/runtime/listener_errors.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::runtime {

// A route of the table, as an explanation names it.
struct ExplainedRoute {
  std::string binding;  // "namespace/name"
  int64_t bindingGeneration = 0;
  std::string hostName;  // as bound: "www.contoso.com", "*.contoso.com", "" (any)
  std::string match;     // how the name reached it: "exact", "wildcard" or "default"
  std::string site;      // "namespace/name"
  int64_t siteId = 0;
};

// The certificate a handshake gets.
struct ExplainedCertificate {
  std::string name;        // the Certificate, "namespace/name"
  std::string thumbprint;  // served, SHA-1 upper-case hex
  table::TlsVersion minTLSVersion = table::TlsVersion::k1_2;
  table::ClientCertificateMode clientCertificate = table::ClientCertificateMode::kIgnore;
};

struct Explanation {
  // kNotListening: the table has the listener, but the data plane could not open its socket, so
  // the connection is refused or answered by whatever else holds the port.
  enum class Result { kConnectionRefused, kNotListening, kHandshakeFailed, kResponse };

  ExplainQuery query;
  std::string hostHeader;  // the Host header explained (the query's, or what curl would send)
  bool live = false;
  uint64_t generation = 0;  // of the table explained

  Result result = Result::kConnectionRefused;
  std::optional<table::ListenerKey> listener;  // the listener that accepts the connection
  table::Protocol protocol = table::Protocol::kHttp;
  std::optional<ExplainedRoute> handshakeRoute;  // https: the binding whose certificate is served
  std::optional<ExplainedCertificate> certificate;
  std::optional<ExplainedRoute> route;  // the binding the Host selected (any response but 400)
  std::shared_ptr<const table::SitePolicy> site;  // its site's policy
  int status = 0;  // kResponse: the HTTP status, IIS substatus, body text, Location
  int substatus = 0;
  std::string message;
  std::string location;

  std::string summary;             // one line: "421 Misdirected Request - ..."
  std::vector<std::string> steps;  // why, one line per step
};

// Explains `query` against `table` (null: nothing live yet, so nothing listens); `closed` are the
// table's listeners the data plane could not open.
Explanation explain(const table::BindingTable* table, const ExplainQuery& query,
                    const ListenerErrors& closed = {});

// The JSON GET /runtime/explain answers (field names in controller/runtime/README.md).
nlohmann::json toJson(const Explanation& explanation);

}  // namespace siteplane::runtime
