#include "controller/runtime/explain_query.h"

#include <catch2/catch.hpp>

namespace siteplane::runtime {

using Parameters = std::multimap<std::string, std::string>;
using ClientCertificateState = tls::TlsSession::ClientCertificateState;

TEST_CASE("An explain query takes an address literal, a port, SNI, Host and a client certificate",
          "[runtime][explain]") {
  auto query = parseExplainQuery({{"address", "127.0.0.1"},
                                  {"port", "8443"},
                                  {"sni", "www.contoso.com"},
                                  {"host", "www.contoso.com:8443"},
                                  {"clientCertificate", "expired"}});
  REQUIRE(query.isOk());
  CHECK(query->address == "127.0.0.1");
  CHECK(query->port == 8443);
  CHECK(query->sni == "www.contoso.com");
  CHECK(query->host == std::optional<std::string>("www.contoso.com:8443"));
  CHECK(query->clientCertificate == ClientCertificateState::kExpired);

  auto minimal = parseExplainQuery({{"address", "::1"}, {"port", "1"}});
  REQUIRE(minimal.isOk());
  CHECK(minimal->sni.empty());
  CHECK_FALSE(minimal->host.has_value());
  CHECK(minimal->clientCertificate == ClientCertificateState::kNone);
}

TEST_CASE("An explain query's address is normalized the way the data plane reports it",
          "[runtime][explain]") {
  CHECK(parseExplainQuery({{"address", "[::1]"}, {"port", "80"}})->address == "::1");
  CHECK(parseExplainQuery({{"address", "0:0:0:0:0:0:0:1"}, {"port", "80"}})->address == "::1");
  CHECK(parseExplainQuery({{"address", "FE80:0::1"}, {"port", "80"}})->address == "fe80::1");
}

TEST_CASE("A bad explain query names the parameter", "[runtime][explain]") {
  const std::vector<std::pair<Parameters, std::string>> cases = {
      {{{"port", "80"}}, "address: required (the IP the client connects to)"},
      {{{"address", "*"}, {"port", "80"}},
       "address: a connection arrives on one address, not \"*\"; give the IP the client connects "
       "to, e.g. 127.0.0.1"},
      {{{"address", "localhost"}, {"port", "80"}},
       "address: \"localhost\" is not an IPv4 or IPv6 address"},
      {{{"address", "127.0.0.1"}}, "port: required"},
      {{{"address", "127.0.0.1"}, {"port", "0"}}, "port: \"0\" is not a port number (1-65535)"},
      {{{"address", "127.0.0.1"}, {"port", "65536"}},
       "port: \"65536\" is not a port number (1-65535)"},
      {{{"address", "127.0.0.1"}, {"port", "80x"}}, "port: \"80x\" is not a port number (1-65535)"},
      {{{"address", "127.0.0.1"}, {"port", ""}}, "port: \"\" is not a port number (1-65535)"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"sni", "a b"}},
       "sni: \"a b\" is not a host name (letters, digits, '-', '.')"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"sni", "10.0.0.1"}},
       "sni: \"10.0.0.1\" is an IP address, which clients never send as SNI (RFC 6066); leave it "
       "out to explain a client that connects by address"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"host", "a\r\nX: y"}},
       "host: contains a control character"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"clientCertificate", "maybe"}},
       "clientCertificate: \"maybe\" is not none, valid, untrusted, expired or revoked"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"path", "/"}},
       "unknown parameter \"path\" (address, port, sni, host, clientCertificate)"},
      {{{"address", "127.0.0.1"}, {"port", "80"}, {"port", "81"}}, "port: given more than once"},
  };
  for (const auto& [parameters, message] : cases) {
    auto parsed = parseExplainQuery(parameters);
    REQUIRE_FALSE(parsed.isOk());
    CHECK(parsed.message() == message);
  }
}

}  // namespace siteplane::runtime
