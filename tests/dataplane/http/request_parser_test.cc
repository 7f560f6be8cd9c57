#include "dataplane/http/request_parser.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace siteplane::http {

TEST_CASE("RequestParser parses a request line, headers and the Host", "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text =
      "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: www.contoso.com:8443\r\nX-Thing: one\r\n\r\n";
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
  std::string text =
      "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nX-Long-Name: "
      "value\r\n\r\nhello";
  for (char c : text) {
    REQUIRE_FALSE(parser.complete());
    CHECK(parser.feed(&c, 1) == 1);
  }
  REQUIRE(parser.complete());
  CHECK(parser.request().header("X-Long-Name") == "value");
  CHECK(parser.request().host == "a.test");
  CHECK(parser.request().body == "hello");
}

TEST_CASE("RequestParser refuses oversized headers, oversized bodies and garbage",
          "[dataplane][http]") {
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
    std::string text =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
        "chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n";
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

TEST_CASE("RequestParser gives the same error however the bytes are split", "[dataplane][http]") {
  // Found by the http_request_parser fuzzer: a header value runs past the limit and only then
  // holds a byte no field value may hold. Byte by byte the limit is hit first (431); in one piece
  // the syntax check saw the bad byte before http-parser counted the header and answered 400.
  const auto errorOf = [](const std::string& text, size_t piece) {
    RequestParser parser(512, 1024);
    for (size_t at = 0; at < text.size() && parser.error() == RequestParser::Error::kNone;) {
      const size_t used = parser.feed(text.data() + at, std::min(piece, text.size() - at));
      if (used == 0) break;
      at += used;
    }
    return parser.error();
  };
  SECTION("a head above the limit before a control character") {
    const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(600, 'x') +
                             std::string("\0", 1) + "x\r\n\r\n";
    CHECK(errorOf(text, text.size()) == RequestParser::Error::kHeaderTooLarge);
    CHECK(errorOf(text, 1) == RequestParser::Error::kHeaderTooLarge);
  }
  SECTION("a chunked body above the limit before a broken chunk") {
    const std::string text =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "500\r\n" +
        std::string(0x500, 'x') + "!";
    CHECK(errorOf(text, text.size()) == RequestParser::Error::kBodyTooLarge);
    CHECK(errorOf(text, 1) == RequestParser::Error::kBodyTooLarge);
  }
  SECTION("a Transfer-Encoding trailer split before its colon") {
    // Found by the fuzzer: once http-parser had read the trailer's name it no longer flagged
    // the body as chunked, so the rest skipped the chunked framing check and the request
    // completed, where in one piece it was refused.
    const std::string head =
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding";
    const std::string rest = ": chunked\r\n\r\n";
    RequestParser parser(512, 1024);
    CHECK(parser.feed(head.data(), head.size()) == head.size());
    REQUIRE(parser.error() == RequestParser::Error::kNone);
    parser.feed(rest.data(), rest.size());
    CHECK_FALSE(parser.complete());
    CHECK(parser.error() == RequestParser::Error::kBadRequest);
  }
  SECTION("a control character inside the limit is a bad request either way") {
    const std::string text = "GET / HTTP/1.1\r\nHost: a\r\nCookie: x" + std::string("\0", 1) +
                             std::string(600, 'x') + "\r\n\r\n";
    CHECK(errorOf(text, text.size()) == RequestParser::Error::kBadRequest);
    CHECK(errorOf(text, 1) == RequestParser::Error::kBadRequest);
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

namespace {

// Feeds `text` whole, or one byte at a time, and says how the parser ended.
std::string outcome(const std::string& text, bool byteAtATime) {
  RequestParser parser(16 * 1024, 1024);
  size_t at = 0;
  while (at < text.size() && !parser.complete() && parser.error() == RequestParser::Error::kNone) {
    size_t used = parser.feed(text.data() + at, byteAtATime ? 1 : text.size() - at);
    if (used == 0) break;
    at += used;
  }
  if (parser.error() == RequestParser::Error::kBadRequest) return "400";
  if (parser.error() != RequestParser::Error::kNone) return "error";
  return parser.complete() ? "complete" : "incomplete";
}

}  // namespace

TEST_CASE("RequestParser refuses what RFC 9112 says a server MUST reject", "[dataplane][http]") {
  // Each of these is accepted by http-parser 2.9 built non-strict; each lets a proxy in front and
  // this server disagree about the headers or where the request ends.
  struct Case {
    const char* what;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"whitespace between a field name and its colon (§5.1)",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
      {"a tab between a field name and its colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"},
      {"two Host field lines (§3.2)", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"two Host field lines of the same value", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"},
      {"a bare LF letting a second Host in", "GET / HTTP/1.1\r\nHost: a\nHost: b\r\n\r\n"},
      {"bare LF line ends throughout", "GET / HTTP/1.1\nHost: a\n\n"},
      {"a bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"},
      {"a bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n"},
      {"a bare CR inside a field value (§2.2)", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"},
      {"a bare CR ending a field line", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"},
      {"obs-fold (§5.2)", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"},
      {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n"},
      {"whitespace before the first field line (§2.2)", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
      {"a NUL in a field value (RFC 9110 §5.5)",
       std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
                   sizeof("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n") - 1)},
      {"a control character in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n"},
      {"a delimiter in a field name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"},
      {"a slash in a field name", "GET / HTTP/1.1\r\nHost: a\r\nX/Y: 1\r\n\r\n"},
      {"an empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"},
      {"a tab inside the request target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"Content-Length with Transfer-Encoding (§6.1)",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding with Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
       "3\r\n\r\n0\r\n\r\n"},
      {"two Content-Length of different values (RFC 9110 §8.6)",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"two Content-Length of the same value",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
      {"a Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc"},
      {"a signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc"},
      {"an empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"},
      {"chunked not the final coding (§6.3)",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
      {"a coding we do not decode before chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"chunked applied twice (§7)",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding in two field lines",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"a Transfer-Encoding other than chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"},
      {"a misspelled chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding in an HTTP/1.0 request (§6.1)",
       "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"two bytes other than CRLF after chunk data (§7.1)",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"},
      {"chunk data longer than its size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n"},
      {"a chunk size ended by CR and another byte",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\rXhello\r\n0\r\n\r\n"},
      {"a chunk size ended by a bare LF",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
      {"a bare LF inside a chunk extension",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
       "chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n"},
      {"whitespace after a chunk size without an extension",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"},
      {"a chunk size that is not hex",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
      {"a bare LF in the trailer section",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n"},
      {"a bare LF ending the trailer section",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n"},
      {"whitespace before a trailer's colon",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : a\r\n\r\n"},
      {"obs-fold in the trailer section",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"},
      {"Transfer-Encoding in the trailer section (RFC 9110 §6.5.1; found by the fuzzer: "
       "http-parser ended the message or not depending on how the bytes arrived)",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"},
      {"Content-Length in the trailer section",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
       "content-length: 5\r\n\r\n"},
      {"Host in the trailer section",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHOST: b\r\n\r\n"},
      {"a version other than HTTP/1.x (§2.3)", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
      {"the asterisk form for GET (§3.2.4)", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"an absolute form with an empty host (RFC 9110 §4.2.1)",
       "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"an absolute form with userinfo (RFC 9110 §4.2.4)",
       "GET http://user@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"},
      {"an absolute form of another scheme", "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(outcome(c.text, false) == "400");
    CHECK(outcome(c.text, true) == "400");
  }
}

TEST_CASE("RequestParser keeps accepting what RFC 9112 allows", "[dataplane][http]") {
  const std::vector<std::string> accepted = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  // empty lines before the request line (§2.2)
      "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces:  a  b  \r\nX-Tab:\tv\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
      "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Token!#$%&'*+-.^_`|~: 1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  3 \r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: "
      "t\r\n\r\n",
      // Trailer names that only begin like a framing or routing field.
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHostname: "
      "x\r\nContent-Length-Checked: 1\r\nTransfer-Encoding-Note: y\r\n\r\n",
      "GET http://a.test:81/p HTTP/1.1\r\nHost: a.test\r\n\r\n",
      "GET HTTPS://a.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;name=value;q=\"a b\"\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;ext\r\nabc\r\n0\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost:\r\n\r\n",  // an empty Host is valid syntax (§3.2)
  };
  for (const auto& text : accepted) {
    INFO(text);
    CHECK(outcome(text, false) == "complete");
    CHECK(outcome(text, true) == "complete");
  }
}

TEST_CASE("RequestParser keeps the request's headers intact across a long trailer section",
          "[dataplane][http]") {
  // The headers are views into the parser's storage; a trailer appended to it used to move it
  // (a use-after-free the request-parser fuzz target found). Trailers are dropped.
  RequestParser parser(16 * 1024, 1024);
  std::string text =
      "POST /upload HTTP/1.1\r\nHost: a.test\r\nX-Before: kept\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: " +
      std::string(4000, 'x') + "\r\n\r\n";
  CHECK(parser.feed(text.data(), text.size()) == text.size());
  REQUIRE(parser.complete());
  const Request& request = parser.request();
  CHECK(request.target == "/upload");
  CHECK(request.host == "a.test");
  CHECK(request.header("x-before") == "kept");
  CHECK(request.header("x-trailer").empty());
  CHECK(request.body == "abc");
}

TEST_CASE("RequestParser frames a chunked body strictly and leaves the next request alone",
          "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text =
      "POST /one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\n\r\n\r\n\r\n0\r\n\r\n"  // the data may hold CRLFs: it is skipped by its size
      "GET /two HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t consumed = parser.feed(text.data(), text.size());
  REQUIRE(parser.complete());
  CHECK(parser.request().body == "\r\n\r\n");
  parser.reset();
  consumed += parser.feed(text.data() + consumed, text.size() - consumed);
  REQUIRE(parser.complete());
  CHECK(parser.request().path == "/two");
  CHECK(consumed == text.size());
}

TEST_CASE("RequestParser checks the head of every pipelined request, not only the first",
          "[dataplane][http]") {
  RequestParser parser(16 * 1024, 1024);
  std::string text =
      "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nx\ny\r\n"
      "GET /two HTTP/1.1\r\nHost: a\nHost: b\r\n\r\n";
  size_t consumed = parser.feed(text.data(), text.size());
  REQUIRE(parser.complete());
  CHECK(parser.request().body == "x\ny\r\n");  // body bytes are the body's: never scanned
  parser.reset();
  parser.feed(text.data() + consumed, text.size() - consumed);
  CHECK(parser.error() == RequestParser::Error::kBadRequest);
}

}  // namespace siteplane::http
