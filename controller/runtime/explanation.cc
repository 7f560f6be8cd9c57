#include "controller/runtime/explanation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "dataplane/http/site_dispatcher.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::runtime {
namespace {

using ClientCertificateState = tls::TlsSession::ClientCertificateState;
using table::ClientCertificateMode;

std::string authority(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

std::string describe(const table::ListenerKey& key) {
  return authority(key.address) + ":" + std::to_string(key.port);
}

// How `name` reached `route` in Listener::findHost: its own host, its wildcard, or the default.
std::string matchOf(const table::Route& route) {
  if (route.hostName.empty()) return "default";
  return route.hostName.starts_with("*.") ? "wildcard" : "exact";
}

ExplainedRoute explainRoute(const table::Route& route) {
  return ExplainedRoute{route.binding,  route.bindingGeneration, route.hostName,
                        matchOf(route), route.site->name,        route.site->siteId};
}

// "binding default/www (hostName www.contoso.com)", naming the listener that holds the binding
// when it is not the one that accepted the connection (BindingTable::route looks a name up on the
// connection's own address first, then on "*").
std::string describeRoute(const table::Route& route, const table::Listener& accepted,
                          const table::BindingTable& table, const ExplainQuery& query) {
  std::string text = "binding " + route.binding;
  if (route.hostName.empty()) {
    text += " (no hostName: the default binding)";
  } else if (route.hostName.starts_with("*.")) {
    text += " (wildcard hostName " + route.hostName + ")";
  } else {
    text += " (hostName " + route.hostName + ")";
  }
  for (const table::Listener* owner :
       {table.findListener({query.address, query.port}), table.findListener({"*", query.port})}) {
    if (!owner || owner == &accepted) continue;
    for (const table::Route& own : owner->routes()) {
      if (&own == &route) return text + " of the " + describe(owner->key()) + " listener";
    }
  }
  return text;
}

// The listeners a name is looked up in, as BindingTable::route does: the connection's own
// address, then "*".
std::string lookedUpIn(const table::BindingTable& table, const ExplainQuery& query) {
  const std::string any = "*:" + std::to_string(query.port);
  if (!table.findListener({query.address, query.port})) return any;
  return describe({query.address, query.port}) + " or " + any;
}

std::string clientCertificateRequest(const tls::ServerContext& context) {
  const auto& options = context.options();
  switch (options.clientCertificate) {
    case ClientCertificateMode::kAccept:
      return fmt::format(
          "a client certificate is requested (Accept) and checked against {} "
          "trusted CA(s)",
          options.clientCAPems.size());
    case ClientCertificateMode::kRequire:
      return fmt::format(
          "a client certificate is requested (Require) and checked against {} "
          "trusted CA(s)",
          options.clientCAPems.size());
    case ClientCertificateMode::kIgnore:
      break;
  }
  return "no client certificate is requested";
}

std::string presented(ClientCertificateState state) {
  switch (state) {
    case ClientCertificateState::kValid:
      return "a certificate the trusted CAs signed";
    case ClientCertificateState::kUntrusted:
      return "a certificate no trusted CA signed";
    case ClientCertificateState::kExpired:
      return "an expired (or not yet valid) certificate";
    case ClientCertificateState::kRevoked:
      return "a certificate its CA's CRL revokes (or a CRL past its nextUpdate)";
    case ClientCertificateState::kNone:
      break;
  }
  return "no certificate";
}

std::string statusText(int status, int substatus) {
  return substatus ? fmt::format("{}.{}", status, substatus) : std::to_string(status);
}

std::string sitePolicy(const table::SitePolicy& site) {
  std::string text = fmt::format(
      "site {} (id {}): requireSSL={}{}, clientCertificate={}, minTLSVersion={}{}", site.name,
      site.siteId, site.requireSSL, site.redirectHTTP ? " redirectHTTP=true" : "",
      table::toString(site.clientCertificate), table::toString(site.minTLSVersion),
      site.require128BitCiphers ? ", require128BitCiphers=true" : "");
  return text;
}

// Why a request got 421: the connection's TLS does not fit the site its Host selects.
std::string misdirected(const table::BindingTable& table, const ExplainQuery& query,
                        const http::Decision& decision, const std::string& code) {
  const table::Route* route = decision.route;
  std::string_view host = decision.host;
  if (!route->tls)
    return fmt::format("{}: the Host's binding {} is plain http, but this connection is TLS", code,
                       route->binding);
  const table::Route* handshake = table.handshakeRoute(query.address, query.port, query.sni);
  if (handshake && handshake->tls && handshake->tls->thumbprint() == route->tls->thumbprint()) {
    // Same certificate, other SSL settings: the Host's site does not accept what the handshake
    // made for the SNI's site negotiated.
    return fmt::format(
        "{}: the handshake was made for {} (site {}); site {} that Host \"{}\" selects does not "
        "accept it: {}",
        code, handshake->binding, handshake->site->name, route->site->name, host, decision.message);
  }
  if (const table::Route* sniRoute = table.route(query.address, query.port, query.sni)) {
    return fmt::format(
        "{}: SNI \"{}\" and Host \"{}\" resolve to different certificates ({} of {} vs {} of {})",
        code, query.sni, host, sniRoute->tls ? sniRoute->tls->thumbprint() : "none",
        sniRoute->binding, route->tls->thumbprint(), route->binding);
  }
  return fmt::format("{}: no binding accepts SNI \"{}\" for a request", code, query.sni);
}

// Why dispatch answered what it did, in the words of the rule that decided (site_dispatcher.h).
void explainResponse(const table::BindingTable& table, const ExplainQuery& query,
                     const http::Decision& decision, bool https, const http::TlsFacts& tls,
                     Explanation& out) {
  const table::Route* route = decision.route;
  const std::string code = statusText(decision.status, decision.substatus);
  if (!route) {
    out.steps.push_back(fmt::format("request: {} {}", code, decision.message));
    return;
  }
  const table::SitePolicy& site = *route->site;
  std::string_view host = decision.host;
  const bool sniDiffers = https && !query.sni.empty() &&
                          (query.sni.size() != host.size() ||
                           !std::equal(host.begin(), host.end(), query.sni.begin(), query.sni.end(),
                                       [](char a, char b) {
                                         return std::tolower(static_cast<unsigned char>(a)) ==
                                                std::tolower(static_cast<unsigned char>(b));
                                       }));
  if (decision.status == 421) {
    out.steps.push_back(misdirected(table, query, decision, code));
    return;
  }
  if (sniDiffers && route->tls) {
    out.steps.push_back(fmt::format(
        "SNI \"{}\" and Host \"{}\" differ but resolve to the same certificate {}: allowed",
        query.sni, host, route->tls->thumbprint()));
  }
  out.steps.push_back(sitePolicy(site));
  if (decision.status == 403 && decision.substatus == 4) {
    out.steps.push_back(code +
                        ": the site requires SSL (requireSSL) and this request is plain "
                        "http; redirectHTTP is off");
  } else if (decision.status == 301 && site.requireSSL && !https) {
    out.steps.push_back(
        fmt::format("{}: the site requires SSL and redirects plain http (redirectHTTP) to {}", code,
                    decision.location));
  } else if (decision.status == 403 && decision.substatus == 5) {
    out.steps.push_back(fmt::format(
        "{}: the site requires 128-bit ciphers and the weakest cipher the context allows has {} "
        "bits",
        code, tls.cipherBits));
  } else if (decision.status == 403 && decision.substatus >= 7) {
    out.steps.push_back(fmt::format(
        "{}: the site's clientCertificate is {} and the client "
        "presents {}",
        code, table::toString(site.clientCertificate), presented(tls.clientCertificate)));
  } else if (decision.serve()) {
    if (https && site.requireSSL)
      out.steps.push_back("requireSSL: satisfied, the request is https");
    if (https && site.clientCertificate != ClientCertificateMode::kIgnore)
      out.steps.push_back(fmt::format("clientCertificate {}: the client presents {}",
                                      table::toString(site.clientCertificate),
                                      presented(tls.clientCertificate)));
    out.steps.push_back("served: static files from " + site.root.string());
  } else {
    out.steps.push_back(fmt::format("{}: {}", code, decision.message));
  }
}

std::string summaryOf(const http::Decision& decision) {
  if (decision.serve())
    return fmt::format("200: served by site {} through binding {}", decision.route->site->name,
                       decision.route->binding);
  if (decision.status == 301) return "301 Moved Permanently to " + decision.location;
  std::string code = statusText(decision.status, decision.substatus);
  // IIS-style messages already start with their code ("403.4 - SSL required: ...").
  if (std::string_view(decision.message).starts_with(code)) return std::string(decision.message);
  return code + " " + std::string(decision.message);
}

std::string target(const ExplainQuery& query) {
  return authority(query.address) + ":" + std::to_string(query.port);
}

// What curl would send as Host when the query names none.
std::string defaultHostHeader(const ExplainQuery& query, bool https) {
  if (query.host) return *query.host;
  const uint16_t defaultPort = https ? 443 : 80;
  return (https && !query.sni.empty() ? query.sni : authority(query.address)) +
         (query.port == defaultPort ? "" : ":" + std::to_string(query.port));
}

// 1. The socket: an exact-address listener, else the one bound to every address. Null when the
// connection is refused (`out` then says why and is complete).
const table::Listener* explainListener(const table::BindingTable& table, const ExplainQuery& query,
                                       const ListenerErrors& closed, Explanation& out) {
  const table::Listener* listener = table.listenerFor(query.address, query.port);
  if (!listener) {
    std::string others;
    for (const auto& candidate : table.listeners()) {
      if (candidate->key().port != query.port) continue;
      others += (others.empty() ? "" : ", ") + describe(candidate->key());
    }
    out.steps.push_back(fmt::format(
        "listener: table generation {} has no {} listener and no *:{} listener{}", out.generation,
        target(query), query.port,
        others.empty()
            ? std::string()
            : " (port " + std::to_string(query.port) + " listens only on " + others + ")"));
    out.hostHeader = query.host.value_or("");
    out.summary = "connection refused: nothing listens on " + target(query);
    return nullptr;
  }
  // A listener the data plane could not open accepts nothing; the kernel hands a connection to
  // the "*" socket when that one is open (and the data plane then routes it as usual).
  std::string fallback;
  if (auto error = closed.find(listener->key()); error != closed.end()) {
    const table::Listener* any =
        listener->key().address == "*" ? nullptr : table.findListener({"*", query.port});
    if (!any || closed.count(any->key())) {
      out.listener = listener->key();
      out.protocol = listener->protocol();
      out.result = Explanation::Result::kNotListening;
      out.hostHeader = query.host.value_or("");
      out.steps.push_back(fmt::format(
          "listener: {} is in table generation {}, but the data plane could not open it: {}",
          describe(listener->key()), out.generation, error->second));
      out.summary = fmt::format(
          "not served by siteplane: {} is not open ({}); the connection is refused, or answered "
          "by whatever else holds the port",
          describe(listener->key()), error->second);
      return nullptr;
    }
    fallback =
        fmt::format("{} could not be opened ({}), so ", describe(listener->key()), error->second);
    listener = any;
  }
  out.listener = listener->key();
  out.protocol = listener->protocol();
  out.hostHeader = defaultHostHeader(query, out.protocol == table::Protocol::kHttps);
  if (!fallback.empty()) {
    out.steps.push_back(fmt::format(
        "listener: {}{} (every address) accepts the connection: {}, {} binding(s)", fallback,
        describe(listener->key()), table::toString(out.protocol), listener->routes().size()));
  } else if (listener->key().address == "*") {
    out.steps.push_back(fmt::format(
        "listener: no listener is bound to {} itself, so {} (every address) accepts the "
        "connection: {}, {} binding(s)",
        authority(query.address), describe(listener->key()), table::toString(out.protocol),
        listener->routes().size()));
  } else {
    out.steps.push_back(fmt::format("listener: {} ({}, {} binding(s))", describe(listener->key()),
                                    table::toString(out.protocol), listener->routes().size()));
  }
  return listener;
}

// 2. The handshake: SNI picks the certificate (the data plane's client-hello callback). False
// when it fails (`out` is then complete); `tls` receives what the handshake negotiated.
bool explainHandshake(const table::BindingTable& table, const ExplainQuery& query,
                      const table::Listener& listener, http::TlsFacts& tls, Explanation& out) {
  const table::Route* chosen = table.handshakeRoute(query.address, query.port, query.sni);
  if (!chosen) {
    out.result = Explanation::Result::kHandshakeFailed;
    out.steps.push_back(
        query.sni.empty()
            ? fmt::format("TLS: the client sends no SNI and {} has no default binding (one "
                          "without hostName): the handshake fails with unrecognized_name",
                          lookedUpIn(table, query))
            : fmt::format("TLS: no binding on {} claims SNI \"{}\" and there is no default "
                          "binding: the handshake fails with unrecognized_name",
                          lookedUpIn(table, query), query.sni));
    out.summary = "TLS handshake fails: unrecognized_name";
    return false;
  }
  const tls::ServerContext& context = *chosen->tls;
  out.handshakeRoute = explainRoute(*chosen);
  out.certificate =
      ExplainedCertificate{context.name(), context.thumbprint(), context.options().minVersion,
                           context.options().clientCertificate};
  std::string selected = describeRoute(*chosen, listener, table, query);
  if (query.sni.empty()) {
    out.steps.push_back("TLS: no SNI, so " + selected + " supplies the certificate");
  } else if (chosen->hostName.empty()) {
    out.steps.push_back(fmt::format(
        "TLS: no binding claims SNI \"{}\", so {} supplies the certificate", query.sni, selected));
  } else {
    out.steps.push_back(fmt::format("TLS: SNI \"{}\" selects {}", query.sni, selected));
  }
  out.steps.push_back(fmt::format(
      "certificate: {}, thumbprint {}, minimum TLS {}; {}", context.name(), context.thumbprint(),
      table::toString(context.options().minVersion), clientCertificateRequest(context)));
  tls.serverName = query.sni;
  tls.cipherBits = context.weakestCipherBits();
  // The client offers every version, so it negotiates the highest the context allows.
  tls.version = table::TlsVersion::k1_3;
  tls.context = chosen->tls.get();
  // A client sends a certificate only when the handshake asks for one.
  if (context.requestsClientCertificate()) {
    tls.clientCertificate = query.clientCertificate;
  } else if (query.clientCertificate != ClientCertificateState::kNone) {
    out.steps.push_back(
        "the handshake does not ask for a client certificate, so the client sends none");
  }
  return true;
}

// 3. The request: Host picks the site, then the site's SSL settings (http::dispatch).
void explainRequest(const table::BindingTable& table, const ExplainQuery& query,
                    const table::Listener& listener, const http::TlsFacts& tls, Explanation& out) {
  const bool https = out.protocol == table::Protocol::kHttps;
  http::Request request;
  request.method = HTTP_GET;
  request.methodName = "GET";
  request.target = "/";
  request.path = "/";
  request.host = out.hostHeader;
  request.hasHost = true;
  http::ConnectionFacts facts{query.address, query.port, https ? &tls : nullptr};
  http::Decision decision = http::dispatch(table, facts, request);
  out.result = Explanation::Result::kResponse;
  out.status = decision.status;
  out.substatus = decision.substatus;
  out.message = std::string(decision.message);
  out.location = decision.location;
  if (decision.route) {
    out.route = explainRoute(*decision.route);
    out.site = decision.route->site;
    out.steps.push_back(fmt::format("Host \"{}\" selects {} of site {}", out.hostHeader,
                                    describeRoute(*decision.route, listener, table, query),
                                    decision.route->site->name));
  } else if (http::hostWithoutPort(out.hostHeader).empty() && !out.hostHeader.empty()) {
    out.steps.push_back(fmt::format("Host \"{}\" is not a valid host[:port]", out.hostHeader));
  } else {
    out.steps.push_back(
        fmt::format("Host \"{}\": no binding on {} accepts it and there is no default binding",
                    out.hostHeader, lookedUpIn(table, query)));
  }
  explainResponse(table, query, decision, https, tls, out);
  out.summary = summaryOf(decision);
}

}  // namespace

Explanation explain(const table::BindingTable* table, const ExplainQuery& query,
                    const ListenerErrors& closed) {
  Explanation out;
  out.query = query;
  if (!table) {
    out.hostHeader = query.host.value_or("");
    out.steps.push_back("no binding table is live yet, so the data plane listens on nothing");
    out.summary = "connection refused: nothing listens on " + target(query);
    return out;
  }
  out.live = true;
  out.generation = table->generation();
  const table::Listener* listener = explainListener(*table, query, closed, out);
  if (!listener) return out;
  http::TlsFacts tls;
  if (out.protocol == table::Protocol::kHttps) {
    if (!explainHandshake(*table, query, *listener, tls, out)) return out;
  } else if (!query.sni.empty()) {
    out.steps.push_back("plain http: there is no TLS handshake, so the SNI name plays no part");
  }
  explainRequest(*table, query, *listener, tls, out);
  return out;
}

nlohmann::json toJson(const Explanation& explanation) {
  using nlohmann::json;
  auto routeJson = [](const std::optional<ExplainedRoute>& route) -> json {
    if (!route) return nullptr;
    return {{"binding", route->binding},   {"bindingGeneration", route->bindingGeneration},
            {"hostName", route->hostName}, {"match", route->match},
            {"site", route->site},         {"siteId", route->siteId}};
  };
  const ExplainQuery& query = explanation.query;
  json out = {
      {"live", explanation.live},
      {"generation", explanation.generation},
      {"query",
       {{"address", query.address},
        {"port", query.port},
        {"sni", query.sni},
        {"host", query.host ? json(*query.host) : json(nullptr)},
        {"clientCertificate", toString(query.clientCertificate)}}},
      {"hostHeader", explanation.hostHeader},
      {"summary", explanation.summary},
      {"steps", explanation.steps},
      {"handshake", routeJson(explanation.handshakeRoute)},
      {"route", routeJson(explanation.route)},
  };
  switch (explanation.result) {
    case Explanation::Result::kConnectionRefused:
      out["result"] = "ConnectionRefused";
      break;
    case Explanation::Result::kNotListening:
      out["result"] = "NotListening";
      break;
    case Explanation::Result::kHandshakeFailed:
      out["result"] = "HandshakeFailed";
      break;
    case Explanation::Result::kResponse:
      out["result"] = "Response";
      break;
  }
  out["listener"] = explanation.listener ? json{{"address", explanation.listener->address},
                                                {"port", explanation.listener->port},
                                                {"protocol", table::toString(explanation.protocol)}}
                                         : json(nullptr);
  const auto& certificate = explanation.certificate;
  out["certificate"] =
      certificate ? json{{"name", certificate->name},
                         {"certificateHash", certificate->thumbprint},
                         {"minTLSVersion", table::toString(certificate->minTLSVersion)},
                         {"clientCertificate", table::toString(certificate->clientCertificate)}}
                  : json(nullptr);
  const auto& site = explanation.site;
  out["site"] = site ? json{{"name", site->name},
                            {"siteId", site->siteId},
                            {"requireSSL", site->requireSSL},
                            {"redirectHTTP", site->redirectHTTP},
                            {"require128BitCiphers", site->require128BitCiphers},
                            {"clientCertificate", table::toString(site->clientCertificate)},
                            {"minTLSVersion", table::toString(site->minTLSVersion)},
                            {"root", site->root.string()},
                            {"upstream", site->upstream}}
                     : json(nullptr);
  out["response"] = explanation.result == Explanation::Result::kResponse
                        ? json{{"status", explanation.status},
                               {"substatus", explanation.substatus},
                               {"message", explanation.message},
                               {"location", explanation.location}}
                        : json(nullptr);
  return out;
}

}  // namespace siteplane::runtime
