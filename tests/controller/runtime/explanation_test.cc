#include "controller/runtime/explanation.h"

#include "tests/controller/runtime/runtime_fixture.h"

namespace siteplane::runtime {
namespace {

using testing::fixture;
using ClientCertificateState = tls::TlsSession::ClientCertificateState;
using Result = Explanation::Result;

Explanation explainFor(const std::string& address, uint16_t port, const std::string& sni,
                       std::optional<std::string> host = std::nullopt,
                       ClientCertificateState certificate = ClientCertificateState::kNone) {
  ExplainQuery query;
  query.address = address;
  query.port = port;
  query.sni = sni;
  query.host = std::move(host);
  query.clientCertificate = certificate;
  Explanation explanation = explain(fixture().table.get(), query);
  for (const auto& step : explanation.steps) UNSCOPED_INFO(step);
  return explanation;
}

bool hasStep(const Explanation& explanation, const std::string& text) {
  for (const auto& step : explanation.steps)
    if (step.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("explain follows SNI to the certificate and Host to the site when they agree",
          "[runtime][explain]") {
  Explanation served = explainFor("127.0.0.1", 8443, "a.test");
  CHECK(served.live);
  CHECK(served.generation == 9);
  REQUIRE(served.result == Result::kResponse);
  CHECK(served.status == 200);
  CHECK(served.hostHeader == "a.test:8443");  // what curl sends for https://a.test:8443/
  REQUIRE(served.listener.has_value());
  CHECK(served.listener->address == "127.0.0.1");
  CHECK(served.protocol == table::Protocol::kHttps);
  REQUIRE(served.certificate.has_value());
  CHECK(served.certificate->name == "default/a");
  CHECK(served.certificate->thumbprint == fixture().a.thumbprint);
  REQUIRE(served.handshakeRoute.has_value());
  CHECK(served.handshakeRoute->binding == "default/a");
  CHECK(served.handshakeRoute->match == "exact");
  REQUIRE(served.route.has_value());
  CHECK(served.route->binding == "default/a");
  CHECK(served.route->site == "default/web");
  CHECK(served.summary == "200: served by site default/web through binding default/a");
  CHECK(served.steps == std::vector<std::string>{
                            "listener: 127.0.0.1:8443 (https, 3 binding(s))",
                            "TLS: SNI \"a.test\" selects binding default/a (hostName a.test)",
                            "certificate: default/a, thumbprint " + fixture().a.thumbprint +
                                ", minimum TLS 1.2; no client certificate is requested",
                            "Host \"a.test:8443\" selects binding default/a (hostName a.test) of "
                            "site default/web",
                            "site default/web (id 1): requireSSL=false, clientCertificate=Ignore, "
                            "minTLSVersion=1.2",
                            "served: static files from /srv/web"});
}

TEST_CASE("explain answers 421 when the Host's binding has another certificate than the SNI's",
          "[runtime][explain]") {
  Explanation misdirected = explainFor("127.0.0.1", 8443, "a.test", "b.test");
  REQUIRE(misdirected.result == Result::kResponse);
  CHECK(misdirected.status == 421);
  CHECK(misdirected.certificate->name == "default/a");
  CHECK(misdirected.route->binding == "default/b");
  CHECK(misdirected.summary ==
        "421 Misdirected Request - the certificate does not cover this host");
  CHECK(hasStep(misdirected,
                "421: SNI \"a.test\" and Host \"b.test\" resolve to different "
                "certificates (" +
                    fixture().a.thumbprint + " of default/a vs " + fixture().b.thumbprint +
                    " of default/b)"));
}

TEST_CASE("explain allows a Host that differs from the SNI when both reach the same certificate",
          "[runtime][explain]") {
  Explanation shared = explainFor("127.0.0.1", 8443, "x.w.test", "b.test");
  CHECK(shared.status == 200);
  CHECK(shared.handshakeRoute->binding == "default/w");
  CHECK(shared.handshakeRoute->match == "wildcard");
  CHECK(shared.route->binding == "default/b");
  CHECK(hasStep(shared,
                "TLS: SNI \"x.w.test\" selects binding default/w (wildcard hostName "
                "*.w.test)"));
  CHECK(hasStep(shared, "differ but resolve to the same certificate " + fixture().b.thumbprint));
}

TEST_CASE(
    "explain fails the handshake with unrecognized_name when no binding and no default "
    "certificate covers the SNI",
    "[runtime][explain]") {
  Explanation unknown = explainFor("127.0.0.1", 8443, "unknown.test");
  CHECK(unknown.result == Result::kHandshakeFailed);
  CHECK_FALSE(unknown.certificate.has_value());
  CHECK(unknown.summary == "TLS handshake fails: unrecognized_name");
  CHECK(hasStep(unknown, "no binding on 127.0.0.1:8443 or *:8443 claims SNI \"unknown.test\""));

  Explanation noSni = explainFor("127.0.0.1", 8443, "");
  CHECK(noSni.result == Result::kHandshakeFailed);
  CHECK(hasStep(noSni, "the client sends no SNI"));
}

TEST_CASE("explain gives an unknown SNI the listener's default certificate through the * listener",
          "[runtime][explain]") {
  Explanation fallback = explainFor("127.0.0.5", 9443, "unknown.test");
  REQUIRE(fallback.result == Result::kResponse);
  CHECK(fallback.listener->address == "*");
  CHECK(fallback.certificate->thumbprint == fixture().a.thumbprint);
  CHECK(fallback.handshakeRoute->match == "default");
  CHECK(fallback.status == 200);
  CHECK(fallback.route->binding == "default/fallback");
  CHECK(hasStep(fallback,
                "listener: no listener is bound to 127.0.0.5 itself, so *:9443 (every "
                "address) accepts the connection: https, 2 binding(s)"));
  CHECK(hasStep(fallback,
                "TLS: no binding claims SNI \"unknown.test\", so binding "
                "default/fallback (no hostName: the default binding) supplies the "
                "certificate"));

  Explanation ipv6 = explainFor("::1", 9443, "");
  CHECK(ipv6.hostHeader == "[::1]:9443");
  CHECK(ipv6.status == 200);
  CHECK(hasStep(ipv6, "TLS: no SNI, so binding default/fallback"));
}

TEST_CASE("explain answers plain http to a requireSSL site with 403.4, or 301 with redirectHTTP",
          "[runtime][explain]") {
  Explanation locked = explainFor("127.0.0.1", 8080, "", "anything.test");
  REQUIRE(locked.result == Result::kResponse);
  CHECK(locked.protocol == table::Protocol::kHttp);
  CHECK_FALSE(locked.certificate.has_value());
  CHECK(locked.status == 403);
  CHECK(locked.substatus == 4);
  CHECK(locked.route->site == "default/locked");
  CHECK(
      hasStep(locked, "403.4: the site requires SSL (requireSSL) and this request is plain http"));

  Explanation moved = explainFor("127.0.0.1", 8080, "moved.test");
  CHECK(moved.status == 403);
  CHECK(moved.hostHeader == "127.0.0.1:8080");  // plain http sends no SNI: Host is the address
  CHECK(moved.route->site == "default/locked");
  CHECK(hasStep(moved, "plain http: there is no TLS handshake, so the SNI name plays no part"));

  Explanation redirected = explainFor("127.0.0.1", 8080, "", "moved.test");
  CHECK(redirected.status == 301);
  CHECK(redirected.location == "https://moved.test:9443/");
  CHECK(redirected.summary == "301 Moved Permanently to https://moved.test:9443/");
}

TEST_CASE("explain applies the site's client certificate mode to what the client presents",
          "[runtime][explain]") {
  Explanation none = explainFor("127.0.0.1", 9443, "secure.test");
  CHECK(none.certificate->clientCertificate == table::ClientCertificateMode::kRequire);
  CHECK(none.certificate->minTLSVersion == table::TlsVersion::k1_3);
  CHECK(none.status == 403);
  CHECK(none.substatus == 7);
  CHECK(hasStep(none,
                "a client certificate is requested (Require) and checked against 1 trusted "
                "CA(s)"));
  CHECK(hasStep(none,
                "403.7: the site's clientCertificate is Require and the client presents no "
                "certificate"));

  CHECK(explainFor("127.0.0.1", 9443, "secure.test", std::nullopt, ClientCertificateState::kValid)
            .status == 200);
  Explanation untrusted = explainFor("127.0.0.1", 9443, "secure.test", std::nullopt,
                                     ClientCertificateState::kUntrusted);
  CHECK(untrusted.substatus == 16);
  Explanation expired =
      explainFor("127.0.0.1", 9443, "secure.test", std::nullopt, ClientCertificateState::kExpired);
  CHECK(expired.substatus == 17);

  // A handshake that never asks for a certificate never gets one.
  Explanation notAsked =
      explainFor("127.0.0.1", 8443, "a.test", std::nullopt, ClientCertificateState::kUntrusted);
  CHECK(notAsked.status == 200);
  CHECK(hasStep(notAsked, "the handshake does not ask for a client certificate"));
}

TEST_CASE("explain answers 400 for a Host no binding on the port accepts", "[runtime][explain]") {
  Explanation invalid = explainFor("127.0.0.1", 8443, "a.test", "nobody.test");
  REQUIRE(invalid.result == Result::kResponse);
  CHECK(invalid.status == 400);
  CHECK_FALSE(invalid.route.has_value());
  CHECK(invalid.summary == "400 Bad Request - Invalid Hostname");
  CHECK(
      hasStep(invalid, "Host \"nobody.test\": no binding on 127.0.0.1:8443 or *:8443 accepts it"));

  Explanation malformed = explainFor("127.0.0.1", 8443, "a.test", "a.test/evil");
  CHECK(malformed.status == 400);
  CHECK(hasStep(malformed, "Host \"a.test/evil\" is not a valid host[:port]"));
}

TEST_CASE("explain says connection refused where nothing listens", "[runtime][explain]") {
  Explanation nothing = explainFor("127.0.0.1", 1, "");
  CHECK(nothing.result == Result::kConnectionRefused);
  CHECK_FALSE(nothing.listener.has_value());
  CHECK(nothing.summary == "connection refused: nothing listens on 127.0.0.1:1");

  // 127.0.0.1:8081 is bound to its own address only.
  Explanation otherAddress = explainFor("127.0.0.2", 8081, "");
  CHECK(otherAddress.result == Result::kConnectionRefused);
  CHECK(hasStep(otherAddress, "(port 8081 listens only on 127.0.0.1:8081)"));

  ExplainQuery query;
  query.address = "127.0.0.1";
  query.port = 8443;
  Explanation notLive = explain(nullptr, query);
  CHECK_FALSE(notLive.live);
  CHECK(notLive.result == Result::kConnectionRefused);
  CHECK(notLive.steps == std::vector<std::string>{
                             "no binding table is live yet, so the data plane listens on nothing"});
}

TEST_CASE("explain's JSON carries the decision and every step", "[runtime][explain]") {
  nlohmann::json json = toJson(explainFor("127.0.0.1", 8443, "a.test", "b.test"));
  CHECK(json["result"] == "Response");
  CHECK(json["generation"] == 9);
  CHECK(json["query"] == nlohmann::json{{"address", "127.0.0.1"},
                                        {"port", 8443},
                                        {"sni", "a.test"},
                                        {"host", "b.test"},
                                        {"clientCertificate", "none"}});
  CHECK(json["listener"] ==
        nlohmann::json{{"address", "127.0.0.1"}, {"port", 8443}, {"protocol", "https"}});
  CHECK(json["certificate"]["certificateHash"] == fixture().a.thumbprint);
  CHECK(json["handshake"]["binding"] == "default/a");
  CHECK(json["route"]["binding"] == "default/b");
  CHECK(json["site"]["name"] == "default/web");
  CHECK(json["response"]["status"] == 421);
  CHECK(json["steps"].size() >= 4);

  nlohmann::json refused = toJson(explainFor("127.0.0.1", 1, ""));
  CHECK(refused["result"] == "ConnectionRefused");
  CHECK(refused["listener"].is_null());
  CHECK(refused["response"].is_null());
}

}  // namespace siteplane::runtime

namespace siteplane::runtime {

TEST_CASE("explain sends a connection to the * listener when its own address could not be opened",
          "[runtime][explain]") {
  auto& f = fixture();
  table::BindingTable::Builder builder(3);
  for (const char* address : {"127.0.0.1", "*"}) {
    table::BindingTable::Entry entry;
    entry.listener = {address, 7443};
    entry.protocol = table::Protocol::kHttps;
    entry.route.binding = std::string("default/") + (address[0] == '*' ? "any" : "own");
    entry.route.site = testing::sitePolicy("web", 1);
    entry.route.tls = address[0] == '*' ? f.contextB : f.contextA;
    REQUIRE(builder.add(std::move(entry)).isOk());
  }
  auto table = std::move(builder).build();
  ExplainQuery query;
  query.address = "127.0.0.1";
  query.port = 7443;

  // The kernel hands the connection to the "*" socket; the data plane still looks the name up on
  // the connection's own address first, so the 127.0.0.1 binding's certificate is served.
  Explanation fallback = explain(table.get(), query,
                                 {{{"127.0.0.1", 7443}, "127.0.0.1:7443: address already in use"}});
  for (const auto& step : fallback.steps) UNSCOPED_INFO(step);
  REQUIRE(fallback.result == Explanation::Result::kResponse);
  CHECK(fallback.listener->address == "*");
  CHECK(fallback.certificate->thumbprint == f.a.thumbprint);
  CHECK(fallback.steps[0] ==
        "listener: 127.0.0.1:7443 could not be opened (127.0.0.1:7443: "
        "address already in use), so *:7443 (every address) accepts the "
        "connection: https, 1 binding(s)");
  CHECK(fallback.steps[1] ==
        "TLS: no SNI, so binding default/own (no hostName: the default "
        "binding) of the 127.0.0.1:7443 listener supplies the certificate");

  Explanation closed = explain(table.get(), query,
                               {{{"127.0.0.1", 7443}, "address already in use"},
                                {{"*", 7443}, "*:7443: address already in use"}});
  CHECK(closed.result == Explanation::Result::kNotListening);
  CHECK(closed.summary ==
        "not served by siteplane: 127.0.0.1:7443 is not open (address already "
        "in use); the connection is refused, or answered by whatever else "
        "holds the port");
  CHECK(toJson(closed)["result"] == "NotListening");
}

}  // namespace siteplane::runtime
