#include "dataplane/http/site_dispatcher.h"

#include <strings.h>

#include <optional>
#include <utility>

#include "dataplane/tls/server_context.h"

namespace siteplane::http {
namespace {

using table::ClientCertificateMode;
using ClientCertificateState = tls::TlsSession::ClientCertificateState;

bool validHostCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':';
}

// Same certificate? Compared by thumbprint, not by context object: the controller may build two
// contexts around one certificate (different site SSL settings), and a renewed certificate has a
// new context on both sides of the comparison since both come from the same table.
bool sameCertificate(const table::Route& a, const table::Route& b) {
  if (a.tls == b.tls) return true;
  if (!a.tls || !b.tls) return false;
  return a.tls->thumbprint() == b.tls->thumbprint();
}

constexpr std::string_view kMisdirectedVersion =
    "Misdirected Request - this connection's TLS version is below the site's minTLSVersion";
constexpr std::string_view kMisdirectedPolicy =
    "Misdirected Request - this connection was negotiated for another site's SSL settings";
constexpr std::string_view kMisdirectedCertificate =
    "Misdirected Request - this site requires a client certificate; connect with SNI naming it";

Decision respond(int status, int substatus, std::string_view message) {
  Decision decision;
  decision.status = status;
  decision.substatus = substatus;
  decision.message = message;
  return decision;
}

Decision forSite(Decision decision, const table::Route& route, std::string_view host) {
  decision.route = &route;
  decision.host = host;
  return decision;
}

// A rejection by the site the Host selected: counted and logged against it.
Decision rejectFor(const table::Route& route, std::string_view host, int status, int substatus,
                   std::string_view message) {
  return forSite(respond(status, substatus, message), route, host);
}

// The client certificate the connection holds for this site's trust, against its
// clientCertificate mode. `madeForThisSite`: the handshake ended on this site's own context.
std::optional<Decision> checkClientCertificate(const TlsFacts& tls, const table::Route& route,
                                               bool madeForThisSite) {
  const table::SitePolicy& site = *route.site;
  ClientCertificateState state =
      tls.session ? tls.session->clientCertificateFor(route.tls) : tls.clientCertificate;
  switch (state) {
    case ClientCertificateState::kNone:
      if (site.clientCertificate != ClientCertificateMode::kRequire) break;
      // Another site's handshake either never asked for a certificate or named other CAs, so the
      // client had no chance to present one for this site: reconnecting with SNI naming the site
      // gets its CertificateRequest (and 403.7 if the client still has none).
      if (!madeForThisSite) return respond(421, 0, kMisdirectedCertificate);
      return respond(403, 7, "403.7 - Client certificate required");
    case ClientCertificateState::kRevoked:
      return respond(403, 13, "403.13 - Client certificate revoked");
    case ClientCertificateState::kUntrusted:
      return respond(403, 16, "403.16 - Client certificate is untrusted or invalid");
    case ClientCertificateState::kExpired:
      return respond(403, 17, "403.17 - Client certificate has expired or is not yet valid");
    case ClientCertificateState::kValid:
      break;
  }
  return std::nullopt;
}

// Why an https request may not be answered by the site its Host selects, or nothing when it may.
std::optional<Decision> checkTls(const table::BindingTable& table,
                                 const ConnectionFacts& connection, const TlsFacts& tls,
                                 const table::Route& route, std::string_view host) {
  const table::SitePolicy& site = *route.site;
  if (route.tls == nullptr) return rejectFor(route, host, 421, 0, "Misdirected Request");
  std::string_view sni = tls.serverName;
  // The usual case, SNI and Host naming the same host, needs no second lookup.
  const bool sameName =
      sni.size() == host.size() && strncasecmp(sni.data(), host.data(), host.size()) == 0;
  if (!sni.empty() && !sameName) {
    // Re-resolved in the current table, so a certificate renewed by a swap still matches.
    const table::Route* sniRoute = table.route(connection.localAddress, connection.localPort, sni);
    if (!sniRoute || !sameCertificate(*sniRoute, route))
      return rejectFor(route, host, 421, 0,
                       "Misdirected Request - the certificate does not cover this host");
  }
  // The handshake enforced the policy of the context it ended on. A request whose Host selects a
  // site with another context (two sites sharing a certificate, a swap since the handshake) is
  // checked here against that site's policy: a connection that does not meet it gets 421, so the
  // client retries on a connection of its own, made for this site.
  const bool madeForThisSite = tls.context == route.tls.get();
  std::optional<Decision> rejected;
  if (tls.version < site.minTLSVersion) {
    rejected = respond(421, 0, kMisdirectedVersion);
  } else if (site.require128BitCiphers && tls.cipherBits < 128) {
    rejected =
        madeForThisSite
            ? respond(403, 5, "403.5 - SSL 128 required: this site requires a 128-bit cipher")
            : respond(421, 0, kMisdirectedPolicy);
  } else if (site.clientCertificate != ClientCertificateMode::kIgnore) {
    rejected = checkClientCertificate(tls, route, madeForThisSite);
  }
  if (rejected) return forSite(std::move(*rejected), route, host);
  return std::nullopt;
}

// requireSSL with redirectHTTP: 301 to the same host and path on the site's https binding.
Decision httpsRedirect(const ConnectionFacts& connection, const Request& request,
                       const table::SitePolicy& site, std::string_view host) {
  Decision redirect = respond(301, 0, "Moved Permanently");
  redirect.location.reserve(16 + host.size() + request.path.size() + request.query.size());
  redirect.location.append("https://");
  std::string_view authority = host.empty() ? connection.localAddress : host;
  const bool ipv6 = authority.find(':') != std::string_view::npos;
  if (ipv6) redirect.location.push_back('[');
  redirect.location.append(authority);
  if (ipv6) redirect.location.push_back(']');
  if (site.httpsRedirectPort != 443) {
    redirect.location.push_back(':');
    redirect.location.append(std::to_string(site.httpsRedirectPort));
  }
  redirect.location.append(request.path.empty() ? std::string_view("/") : request.path);
  if (!request.query.empty()) {
    redirect.location.push_back('?');
    redirect.location.append(request.query);
  }
  return redirect;
}

}  // namespace

TlsFacts tlsFactsOf(const tls::TlsSession& session) {
  return TlsFacts{session.serverName(), session.cipherBits(),    session.clientCertificate(),
                  session.tlsVersion(), session.context().get(), &session};
}

std::string_view hostWithoutPort(std::string_view host) {
  if (host.empty()) return host;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return {};
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
    return host.substr(1, close - 1);
  }
  auto colon = host.find(':');
  std::string_view name = host.substr(0, colon);
  for (char c : name)
    if (!validHostCharacter(c) || c == ':') return {};
  if (colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5) return {};
    for (char c : port)
      if (c < '0' || c > '9') return {};
  }
  return name;
}

Decision dispatch(const table::BindingTable& table, const ConnectionFacts& connection,
                  const Request& request) {
  const bool http11 = request.versionMajor == 1 && request.versionMinor >= 1;
  if (http11 && !request.hasHost) return respond(400, 0, "Bad Request - Missing Host header");
  std::string_view host = hostWithoutPort(request.host);
  if (request.hasHost && host.empty() && !request.host.empty())
    return respond(400, 0, "Bad Request - Invalid Hostname");

  const table::Route* route = table.route(connection.localAddress, connection.localPort, host);
  if (!route) return respond(400, 0, "Bad Request - Invalid Hostname");
  const table::SitePolicy& site = *route->site;

  // Past this point the request belongs to a site: rejections are counted and logged against it.
  auto reject = [&](int status, int substatus, std::string_view message) {
    return rejectFor(*route, host, status, substatus, message);
  };
  if (connection.tls) {
    if (auto rejected = checkTls(table, connection, *connection.tls, *route, host))
      return *rejected;
  } else if (site.requireSSL) {
    if (!site.redirectHTTP)
      return reject(403, 4, "403.4 - SSL required: this site requires a secure (https) connection");
    return forSite(httpsRedirect(connection, request, site, host), *route, host);
  }

  if (request.upgrade) return reject(501, 0, "Not Implemented - protocol upgrades are not served");
  if (request.method != HTTP_GET && request.method != HTTP_HEAD)
    return reject(405, 0, "Method Not Allowed");
  if (!site.upstream.empty() && site.root.empty())
    return reject(501, 0, "Not Implemented - this data plane serves static sites only");
  Decision decision;
  decision.route = route;
  decision.host = host;
  return decision;
}

}  // namespace siteplane::http
