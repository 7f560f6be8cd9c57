#include "dataplane/static/request_path.h"

#include <catch2/catch.hpp>

namespace siteplane::staticfiles {

TEST_CASE("decodeRequestPath decodes and normalizes", "[dataplane][static][path]") {
  struct Case {
    std::string_view target;
    std::string_view expected;
  };
  const Case cases[] = {
      {"/", "/"},
      {"/index.html", "/index.html"},
      {"/a%20b.txt", "/a b.txt"},
      {"/caf%C3%A9", "/caf\xC3\xA9"},
      {"//a///b", "/a/b"},
      {"/a/./b/.", "/a/b/"},
      {"/docs/", "/docs/"},
      {"/a%2Fb", "/a/b"},
      {"/.well-known/acme-challenge/token", "/.well-known/acme-challenge/token"},
      {"/a..b/c..", "/a..b/c.."},
      {"/%7Euser", "/~user"},
  };
  std::string out;
  for (const Case& c : cases) {
    INFO(c.target);
    PathCheck check = decodeRequestPath(c.target, DotfilePolicy::kDeny, out);
    REQUIRE(check.ok());
    CHECK(out == c.expected);
  }
}

TEST_CASE("decodeRequestPath refuses traversal and malformed targets",
          "[dataplane][static][path]") {
  struct Case {
    std::string_view target;
    int status;
  };
  const Case cases[] = {
      {"/../etc/passwd", 403},
      {"/a/../../etc/passwd", 403},
      {"/a/..", 403},
      {"/%2e%2e/etc/passwd", 403},
      {"/%2E%2E/", 403},
      {"/.%2e/x", 403},
      {"/a/%2E%2E%2Fb", 403},
      {"/a%2f%2e%2e%2fb", 403},
      {"/..%5c", 403},
      {"/..%5C..%5Cetc", 403},
      {"/a\\..\\b", 403},
      {"/%5c", 403},
      {"/a%00.html", 400},
      {std::string_view("/a\0b", 4), 400},
      {"/a%", 400},
      {"/a%4", 400},
      {"/a%zz", 400},
      {"/a%%41", 400},
      {"/a b", 400},
      {"/a\r\nX: y", 400},
      {"", 400},
      {"index.html", 400},
      {"http://example.com/", 400},
      {"*", 400},
      {"/.git/config", 404},
      {"/a/.env", 404},
      {"/%2egit/HEAD", 404},
  };
  std::string out;
  for (const Case& c : cases) {
    INFO(c.target);
    PathCheck check = decodeRequestPath(c.target, DotfilePolicy::kDeny, out);
    CHECK(check.status == c.status);
    CHECK_FALSE(check.reason.empty());
  }
}

TEST_CASE("decodeRequestPath serves dotfiles only when allowed", "[dataplane][static][path]") {
  std::string out;
  REQUIRE(decodeRequestPath("/.htaccess", DotfilePolicy::kAllow, out).ok());
  CHECK(out == "/.htaccess");
  CHECK(decodeRequestPath("/.htaccess", DotfilePolicy::kDeny, out).status == 404);
  CHECK(decodeRequestPath("/a/../b", DotfilePolicy::kAllow, out).status == 403);
}

}  // namespace siteplane::staticfiles
