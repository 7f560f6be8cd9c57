#include "dataplane/http/request_parser.h"

#include <catch2/catch.hpp>

namespace siteplane::http {

TEST_CASE("RequestParser parses a request line, headers and the Host", "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: www.contoso.com:8443\r\nX-Thing: one\r\n\r\n";
  CHECK(parser.feed(text.data(), text.size()) == text.size());
  REQUIRE(parser.complete());
  const Request& request = parser.request();
  CHECK(request.methodName == "GET");
  CHECK(request.target == "/a/b?x=1&y=2");
  CHECK(request.path == "/a/b");
  CHECK(request.query == "x=1&y=2");
  CHECK(request.host == "www.contoso.com:8443");
  CHECK(request.hasHost);
  CHECK(request.keepAlive);
  CHECK(request.header("x-thing") == "one");
  CHECK(request.header("missing").empty());
}

TEST_CASE("RequestParser takes the host of an absolute-form target over the Host header",
          "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text = "GET http://a.test:81/p?q HTTP/1.1\r\nHost: b.test\r\n\r\n";
  parser.feed(text.data(), text.size());
  REQUIRE(parser.complete());
  CHECK(parser.request().host == "a.test:81");
  CHECK(parser.request().path == "/p");
  CHECK(parser.request().query == "q");
}

TEST_CASE("RequestParser stops after one request so pipelined requests are answered in order",
          "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nHEAD /two HTTP/1.0\r\n\r\n";
  size_t consumed = parser.feed(text.data(), text.size());
  REQUIRE(parser.complete());
  CHECK(parser.request().path == "/one");
  parser.reset();
  consumed += parser.feed(text.data() + consumed, text.size() - consumed);
  CHECK(consumed == text.size());
  REQUIRE(parser.complete());
  CHECK(parser.request().path == "/two");
  CHECK(parser.request().method == HTTP_HEAD);
  CHECK_FALSE(parser.request().hasHost);
  CHECK_FALSE(parser.request().keepAlive);  // HTTP/1.0 without keep-alive
}

TEST_CASE("RequestParser assembles a request delivered one byte at a time", "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text = "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nX-Long-Name: value\r\n\r\nhello";
  for (char c : text) {
    REQUIRE_FALSE(parser.complete());
    CHECK(parser.feed(&c, 1) == 1);
  }
  REQUIRE(parser.complete());
  CHECK(parser.request().header("X-Long-Name") == "value");
  CHECK(parser.request().host == "a.test");
  CHECK(parser.request().body == "hello");
}

TEST_CASE("RequestParser refuses oversized headers, oversized bodies and garbage", "[dataplane][http]") {
  SECTION("headers above the limit") {
    RequestParser parser(512, 1024);
    std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(600, 'x') + "\r\n\r\n";
    parser.feed(text.data(), text.size());
    CHECK(parser.error() == RequestParser::Error::kHeaderTooLarge);
  }
  SECTION("a declared body above the limit") {
    RequestParser parser(16 * 1024, 10);
    std::string text = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    parser.feed(text.data(), text.size());
    CHECK(parser.error() == RequestParser::Error::kBodyTooLarge);
  }
  SECTION("a chunked body growing above the limit") {
    RequestParser parser(16 * 1024, 10);
    std::string text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n";
    parser.feed(text.data(), text.size());
    CHECK(parser.error() == RequestParser::Error::kBodyTooLarge);
  }
  SECTION("bytes that are not HTTP") {
    RequestParser parser(16 * 1024, 10);
    std::string text("\x16\x03\x01\x02\x00\x01\x00", 7);
    parser.feed(text.data(), text.size());
    CHECK(parser.error() == RequestParser::Error::kBadRequest);
  }
}

TEST_CASE("RequestParser reports a started but unfinished request", "[dataplane][http]") {
  RequestParser parser(16 * 1024, 10);
  CHECK_FALSE(parser.started());
  std::string text = "GET / HTTP/1.1\r\nHo";
  parser.feed(text.data(), text.size());
  CHECK(parser.started());
  CHECK_FALSE(parser.headersComplete());
  CHECK_FALSE(parser.complete());
}

}  // namespace siteplane::http
