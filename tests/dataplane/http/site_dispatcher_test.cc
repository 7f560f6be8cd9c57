#include "dataplane/http/site_dispatcher.h"

#include <catch2/catch.hpp>

#include "dataplane/http/access_log.h"
#include "dataplane/http/response.h"

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

TEST_CASE("dispatch routes by Host and answers 400 for hosts no binding accepts", "[dataplane][http]") {
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

TEST_CASE("dispatch answers plain http to a requireSSL site with 403.4 or a 301", "[dataplane][http]") {
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
        "X-Status: 403.7\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");

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
