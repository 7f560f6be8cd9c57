#pragma once

// The connection `siteplane explain` asks about: where a client connects, the SNI name and the
// Host header it sends, and the client certificate it would present. Parsed from query
// parameters, both by the API (GET /runtime/explain?address=&port=&sni=&host=) and by the CLI
// before it sends anything, so a bad argument gets the same one-line error in both places.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::runtime {

struct ExplainQuery {
  std::string address;  // normalized IP literal the client connects to ("127.0.0.1", "::1")
  uint16_t port = 0;
  std::string sni;                  // "" when the client sends no SNI
  std::optional<std::string> host;  // the Host header; nullopt: what curl would send
  tls::TlsSession::ClientCertificateState clientCertificate =
      tls::TlsSession::ClientCertificateState::kNone;
};

// Parameters: address (required: an IPv4 or IPv6 literal, brackets allowed), port (required,
// 1-65535), sni (a DNS name; an IP is never sent as SNI), host (any Host header value without
// control characters), clientCertificate (none, valid, untrusted, expired, revoked; default none).
// Errors name the parameter: `port: "70000" is not a port number (1-65535)`.
Result<ExplainQuery> parseExplainQuery(const std::multimap<std::string, std::string>& parameters);

// "none", "valid", "untrusted", "expired".
const char* toString(tls::TlsSession::ClientCertificateState state);

// Shared by the parameters of every /runtime view.
// Refuses a parameter not in `known` and one given twice, naming it.
Status checkParameters(const std::multimap<std::string, std::string>& parameters,
                       const std::vector<std::string>& known);
// An IPv4 or IPv6 literal (IPv6 in brackets too) in the form the data plane reports a
// connection's local address and the table keys listeners (inet_ntop); nullopt when it is none.
std::optional<std::string> normalizeAddress(std::string text);
// A port number 1-65535; the error names `parameter`.
Result<uint16_t> parsePort(const std::string& parameter, const std::string& text);

}  // namespace siteplane::runtime
