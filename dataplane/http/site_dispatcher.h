#pragma once

// Decides what a request gets before any content is looked at: the IIS / HTTP.sys semantics of
// bindings and site SSL settings. Pure (no I/O), so every rule is unit-tested without sockets.
//
//   Host no binding on the listener accepts        -> 400 "Bad Request - Invalid Hostname"
//   SNI and Host resolve to different certificates -> 421 Misdirected Request
//   requireSSL site over plain http               -> 403.4, or 301 to https with redirectHTTP
//   TLS version below the site's minTLSVersion     -> 421 (the handshake was made for another site)
//   require128BitCiphers with a weaker cipher      -> 403.5 (421 when made for another site)
//   clientCertificate Require without certificate  -> 403.7 (421 when made for another site)
//   client certificate revoked / untrusted / expired -> 403.13 / 403.16 / 403.17, judged by the
//                                                     client CAs of the site the Host selects
//   anything but GET/HEAD on a static site         -> 405

#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/http/request_parser.h"
#include "dataplane/table/binding_table.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::http {

// What the TLS handshake established, as far as dispatch needs it. The data plane reads it from
// the connection's session (tlsFactsOf); `siteplane explain` states the facts of the client it
// explains, so both answers come from the same rules.
struct TlsFacts {
  std::string_view serverName;  // SNI, "" when the client sent none
  int cipherBits = 0;           // of the negotiated cipher
  // As the handshake context judged it; used as is when that context is the route's, or when
  // there is no session to re-verify (`siteplane explain` states it for the site it asks about).
  tls::ClientCertificateState clientCertificate = tls::ClientCertificateState::kNone;
  table::TlsVersion version = table::TlsVersion::k1_3;  // negotiated
  // The context the handshake ended on (SNI's binding, or the listener's default). When the
  // request's route carries another one, the handshake enforced another site's policy and
  // dispatch checks this site's on the connection's parameters.
  const tls::ServerContext* context = nullptr;
  // The live session, to verify its client certificate against another site's CAs. Null in
  // `siteplane explain`.
  const tls::TlsSession* session = nullptr;
};

// Precondition: the handshake is done. The views point into `session`.
TlsFacts tlsFactsOf(const tls::TlsSession& session);

// What the connection knows about itself.
struct ConnectionFacts {
  std::string_view localAddress;  // normalized IP literal the connection arrived on
  uint16_t localPort = 0;
  const TlsFacts* tls = nullptr;  // null for plain http
};

struct Decision {
  int status = 200;
  int substatus = 0;
  const table::Route* route = nullptr;  // the binding that serves the request (null for 400)
  std::string_view message;             // body text of an error page
  std::string location;                 // for 301
  std::string_view host;                // Host without port, lower-case not guaranteed
  bool serve() const { return status == 200 && route != nullptr; }
};

Decision dispatch(const table::BindingTable& table, const ConnectionFacts& connection,
                  const Request& request);

// "www.contoso.com:8443" -> "www.contoso.com", "[::1]:80" -> "::1". Empty when malformed.
std::string_view hostWithoutPort(std::string_view host);

}  // namespace siteplane::http
