#include "dataplane/http/site_dispatcher.h"

#include <catch2/catch.hpp>

#include "dataplane/http/access_log.h"
#include "dataplane/http/response.h"
#include "dataplane/tls/server_context.h"
#include "tests/support/test_support.h"

namespace siteplane::http {
namespace {

std::shared_ptr<const table::SitePolicy> site(const std::string& name, bool requireSSL = false,
                                              bool redirect = false, uint16_t httpsPort = 443) {
  auto policy = std::make_shared<table::SitePolicy>();
  policy->name = name;
  policy->root = "/srv/" + name;
  policy->requireSSL = requireSSL;
  policy->redirectHTTP = redirect;
  policy->httpsRedirectPort = httpsPort;
  return policy;
}

std::shared_ptr<const table::BindingTable> plainTable() {
  table::BindingTable::Builder builder(1);
  auto add = [&](const std::string& host, std::shared_ptr<const table::SitePolicy> policy) {
    table::BindingTable::Entry entry;
    entry.listener.address = "*";
    entry.listener.port = 80;
    entry.route.binding = "default/" + policy->name;
    entry.route.hostName = host;
    entry.route.site = policy;
    REQUIRE(builder.add(std::move(entry)).isOk());
  };
  add("open.test", site("open"));
  add("secure.test", site("secure", true));
  add("moved.test", site("moved", true, true, 8443));
  add("standard.test", site("standard", true, true, 443));
  return std::move(builder).build();
}

struct Parsed {
  RequestParser parser{16 * 1024, 1024};
  explicit Parsed(const std::string& text) {
    parser.feed(text.data(), text.size());
    REQUIRE(parser.complete());
  }
  const Request& request() const { return parser.request(); }
};

Decision dispatchPlain(const std::string& text) {
  static auto table = plainTable();
  Parsed parsed(text);
  return dispatch(*table, ConnectionFacts{"127.0.0.1", 80, nullptr}, parsed.request());
}

}  // namespace

TEST_CASE("dispatch routes by Host and answers 400 for hosts no binding accepts",
          "[dataplane][http]") {
  auto served = dispatchPlain("GET / HTTP/1.1\r\nHost: OPEN.test:80\r\n\r\n");
  CHECK(served.serve());
  CHECK(served.route->binding == "default/open");

  auto unknown = dispatchPlain("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n");
  CHECK(unknown.status == 400);
  CHECK(unknown.message == "Bad Request - Invalid Hostname");

  auto missing = dispatchPlain("GET / HTTP/1.1\r\n\r\n");
  CHECK(missing.status == 400);

  auto malformed = dispatchPlain("GET / HTTP/1.1\r\nHost: open.test/evil\r\n\r\n");
  CHECK(malformed.status == 400);
}

TEST_CASE("dispatch answers plain http to a requireSSL site with 403.4 or a 301",
          "[dataplane][http]") {
  auto refused = dispatchPlain("GET /x HTTP/1.1\r\nHost: secure.test\r\n\r\n");
  CHECK(refused.status == 403);
  CHECK(refused.substatus == 4);
  CHECK(refused.route->binding == "default/secure");

  auto moved = dispatchPlain("GET /a/b?c=d HTTP/1.1\r\nHost: moved.test\r\n\r\n");
  CHECK(moved.status == 301);
  CHECK(moved.location == "https://moved.test:8443/a/b?c=d");

  auto standard = dispatchPlain("GET / HTTP/1.1\r\nHost: standard.test:80\r\n\r\n");
  CHECK(standard.location == "https://standard.test/");
}

TEST_CASE("dispatch refuses methods a static site does not serve", "[dataplane][http]") {
  auto refused = dispatchPlain("DELETE /x HTTP/1.1\r\nHost: open.test\r\n\r\n");
  CHECK(refused.status == 405);
  CHECK(dispatchPlain("HEAD /x HTTP/1.1\r\nHost: open.test\r\n\r\n").serve());
}

TEST_CASE("hostWithoutPort strips the port and validates the name", "[dataplane][http]") {
  CHECK(hostWithoutPort("a.test:8080") == "a.test");
  CHECK(hostWithoutPort("a.test") == "a.test");
  CHECK(hostWithoutPort("[::1]:8443") == "::1");
  CHECK(hostWithoutPort("[::1") == "");
  CHECK(hostWithoutPort("a.test:port") == "");
  CHECK(hostWithoutPort("a b") == "");
}

TEST_CASE("formatHead writes the status line, substatus and framing headers", "[dataplane][http]") {
  HeadBuffer out;
  ResponseHead head;
  head.status = 403;
  head.substatus = 7;
  head.contentType = "text/plain";
  head.contentLength = 12;
  head.keepAlive = false;
  formatHead(out, head, "Wed, 25 Nov 2026 06:39:51 GMT");
  CHECK(std::string(out.data(), out.size()) ==
        "HTTP/1.1 403 Forbidden\r\nServer: siteplane\r\nDate: Wed, 25 Nov 2026 06:39:51 GMT\r\n"
        "X-Status: 403.7\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: "
        "close\r\n\r\n");

  HeadBuffer notModified;
  ResponseHead unchanged;
  unchanged.status = 304;
  unchanged.extraHeaders = "ETag: \"x\"\r\n";
  formatHead(notModified, unchanged, "D");
  std::string text(notModified.data(), notModified.size());
  CHECK(text.find("Content-Length") == std::string::npos);
  CHECK(text.find("ETag: \"x\"\r\n\r\n") != std::string::npos);
}

TEST_CASE("parseAccessLogFormat accepts w3c, json and off only", "[dataplane][http]") {
  AccessLogFormat format = AccessLogFormat::kOff;
  CHECK(parseAccessLogFormat("json", format));
  CHECK(format == AccessLogFormat::kJson);
  CHECK(parseAccessLogFormat("w3c", format));
  CHECK(format == AccessLogFormat::kW3C);
  CHECK_FALSE(parseAccessLogFormat("apache", format));
}

}  // namespace siteplane::http

namespace siteplane::http {
namespace {

// Four sites on one port sharing one certificate, each with its own context (SSL settings).
struct SharedCertificateTable {
  testing::TempDir dir;
  std::shared_ptr<const tls::ServerContext> a, b, legacy, modern;
  std::shared_ptr<const table::BindingTable> table;

  SharedCertificateTable() {
    auto ca = testing::makeCertificate(dir.path(), "ca", {}, nullptr, true);
    auto server = testing::makeCertificate(dir.path(), "server", {"a.test", "b.test"});
    auto context = [&](table::ClientCertificateMode mode, table::TlsVersion version) {
      tls::ServerContextOptions options;
      options.name = "default/server";
      options.certificateChainPem = testing::readFile(server.cert);
      options.privateKeyPem = testing::readFile(server.key);
      options.clientCertificate = mode;
      options.minVersion = version;
      if (mode != table::ClientCertificateMode::kIgnore)
        options.clientCAPems = {testing::readFile(ca.cert)};
      auto created = tls::ServerContext::create(options);
      REQUIRE(created.isOk());
      return *created;
    };
    a = context(table::ClientCertificateMode::kRequire, table::TlsVersion::k1_2);
    b = context(table::ClientCertificateMode::kRequire, table::TlsVersion::k1_2);
    legacy = context(table::ClientCertificateMode::kIgnore, table::TlsVersion::k1_2);
    modern = context(table::ClientCertificateMode::kIgnore, table::TlsVersion::k1_3);
    table::BindingTable::Builder builder(1);
    auto add = [&](const std::string& host, std::shared_ptr<const tls::ServerContext> tls,
                   table::ClientCertificateMode mode, table::TlsVersion version) {
      auto policy = std::make_shared<table::SitePolicy>();
      policy->name = host;
      policy->root = "/srv/" + host;
      policy->clientCertificate = mode;
      policy->minTLSVersion = version;
      table::BindingTable::Entry entry;
      entry.listener = {"*", 443};
      entry.protocol = table::Protocol::kHttps;
      entry.route.binding = "default/" + host;
      entry.route.hostName = host;
      entry.route.site = policy;
      entry.route.tls = std::move(tls);
      REQUIRE(builder.add(std::move(entry)).isOk());
    };
    add("a.test", a, table::ClientCertificateMode::kRequire, table::TlsVersion::k1_2);
    add("b.test", b, table::ClientCertificateMode::kRequire, table::TlsVersion::k1_2);
    add("legacy.test", legacy, table::ClientCertificateMode::kIgnore, table::TlsVersion::k1_2);
    add("modern.test", modern, table::ClientCertificateMode::kIgnore, table::TlsVersion::k1_3);
    table = std::move(builder).build();
  }

  Decision get(const std::string& host, const TlsFacts& tls) const {
    Parsed parsed("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    return dispatch(*table, ConnectionFacts{"127.0.0.1", 443, &tls}, parsed.request());
  }
};

TlsFacts facts(std::string_view sni, const tls::ServerContext& context, table::TlsVersion version,
               tls::ClientCertificateState certificate = tls::ClientCertificateState::kNone) {
  TlsFacts out;
  out.serverName = sni;
  out.cipherBits = 128;
  out.clientCertificate = certificate;
  out.version = version;
  out.context = &context;
  return out;
}

}  // namespace

TEST_CASE(
    "dispatch holds the policy of the site the Host selects, whatever site the handshake was for",
    "[dataplane][http]") {
  SharedCertificateTable t;
  using table::TlsVersion;
  using State = tls::ClientCertificateState;
  // The handshake for the 1.2 site, the Host naming the 1.3-only site.
  auto old = t.get("modern.test", facts("legacy.test", *t.legacy, TlsVersion::k1_2));
  CHECK(old.status == 421);
  CHECK(old.route->binding == "default/modern.test");
  CHECK(old.message ==
        "Misdirected Request - this connection's TLS version is below the site's minTLSVersion");
  CHECK(t.get("modern.test", facts("legacy.test", *t.legacy, TlsVersion::k1_3)).serve());

  // Require through a handshake that never asked for a certificate: reconnect for this site.
  auto unasked = t.get("a.test", facts("legacy.test", *t.legacy, TlsVersion::k1_3));
  CHECK(unasked.status == 421);
  CHECK(unasked.substatus == 0);
  // Through its own handshake the same client gets IIS's 403.7.
  auto own = t.get("a.test", facts("a.test", *t.a, TlsVersion::k1_3));
  CHECK(own.status == 403);
  CHECK(own.substatus == 7);
  // Another Require site's handshake asked for certificates of other CAs: 421 as well.
  CHECK(t.get("a.test", facts("b.test", *t.b, TlsVersion::k1_3)).status == 421);

  auto revoked = t.get("a.test", facts("a.test", *t.a, TlsVersion::k1_3, State::kRevoked));
  CHECK(revoked.status == 403);
  CHECK(revoked.substatus == 13);
  CHECK(revoked.message == "403.13 - Client certificate revoked");
  CHECK(t.get("a.test", facts("a.test", *t.a, TlsVersion::k1_3, State::kValid)).serve());
}

}  // namespace siteplane::http
