#include "dataplane/static/static_handler.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <catch2/catch.hpp>

#include "tests/dataplane/static/static_fixture.h"

namespace siteplane::staticfiles {
namespace {

using testing::SiteDir;

StaticRequest get(std::string_view target) {
  StaticRequest request;
  request.method = "GET";
  request.target = target;
  return request;
}

std::string body(const StaticResponse& response) {
  REQUIRE(response.file);
  std::string all = testing::readAll(*response.file);
  return all.substr(response.offset, response.length);
}

std::string headers(const StaticResponse& response) {
  std::string out;
  response.appendHeaders(out);
  return out;
}

// A site with files inside the root, a secret next to it, and symlinks of every kind.
struct TraversalSite {
  SiteDir site;
  TraversalSite() {
    site.write("index.html", "<h1>home</h1>");
    site.write("sub/file.txt", "inside");
    site.write("sub/index.html", "sub index");
    site.writeOutside("secret.txt", "TOP SECRET");
    site.writeOutside("outside/file.txt", "outside dir");
    site.symlink("relative-out", "../secret.txt");
    site.symlink("absolute-out", site.base() / "secret.txt");
    site.symlink("dir-out", site.base() / "outside");
    site.symlink("etc", "/etc");
    site.symlink("sub/deep-out", "../../secret.txt");
    site.symlink("inside", "sub/file.txt");
    site.symlink("absolute-inside", site.root() / "sub/file.txt");
    site.symlink("sub/up", "../index.html");
    site.symlink("dirlink", "sub");
    site.symlink("chain", "inside");
    site.symlink("loop", "loop");
    site.symlink("dangling", "nowhere.txt");
  }
};

}  // namespace

TEST_CASE("StaticHandler refuses every path traversal attempt", "[dataplane][static][handler]") {
  TraversalSite fixture;
  StaticHandler handler;
  struct Case {
    std::string_view target;
    int status;
  };
  const Case cases[] = {
      {"/../secret.txt", 403},
      {"/../etc/passwd", 403},
      {"/%2e%2e/secret.txt", 403},
      {"/%2E%2E%2Fsecret.txt", 403},
      {"/sub/%2E%2E%2F..%2Fsecret.txt", 403},
      {"/a/%2E%2E%2Fb", 403},
      {"/..%5csecret.txt", 403},
      {"/..\\secret.txt", 403},
      {"/secret.txt%00.html", 400},
      {"/%00", 400},
      {"/relative-out", 403},
      {"/absolute-out", 403},
      {"/dir-out/file.txt", 403},
      {"/etc/passwd", 403},
      {"/sub/deep-out", 403},
      {"/loop", 403},
      {"/dangling", 404},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    StaticResponse response = handler.handle(get(c.target), fixture.site.root());
    CHECK(response.status == c.status);
    CHECK(response.file == nullptr);
    CHECK_FALSE(response.sendBody);
  }
}

TEST_CASE("StaticHandler follows symlinks that stay inside the root",
          "[dataplane][static][handler]") {
  TraversalSite fixture;
  StaticHandler handler;
  struct Case {
    std::string_view target;
    std::string_view body;
  };
  const Case cases[] = {
      {"/inside", "inside"},        {"/absolute-inside", "inside"},  {"/chain", "inside"},
      {"/sub/up", "<h1>home</h1>"}, {"/dirlink/file.txt", "inside"}, {"/dirlink/", "sub index"},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    StaticResponse response = handler.handle(get(c.target), fixture.site.root());
    REQUIRE(response.status == 200);
    CHECK(body(response) == c.body);
  }
}

TEST_CASE("StaticHandler serves index.html and redirects directories to their slash",
          "[dataplane][static][handler]") {
  SiteDir site;
  site.write("index.html", "home");
  site.write("docs/index.html", "docs home");
  site.write("docs/guide.css", "body{}");
  site.write("empty/readme.txt", "no index here");
  site.write("a b/index.html", "spaced");
  StaticHandler handler;

  StaticResponse home = handler.handle(get("/"), site.root());
  REQUIRE(home.status == 200);
  CHECK(body(home) == "home");
  CHECK(home.file->contentType() == "text/html; charset=utf-8");

  StaticResponse docs = handler.handle(get("/docs/"), site.root());
  REQUIRE(docs.status == 200);
  CHECK(body(docs) == "docs home");

  StaticResponse redirect = handler.handle(get("/docs"), site.root());
  CHECK(redirect.status == 301);
  CHECK(redirect.location == "/docs/");
  CHECK(headers(redirect) == "Location: /docs/\r\n");
  CHECK(redirect.file == nullptr);

  StaticResponse encoded = handler.handle(get("/a%20b"), site.root());
  CHECK(encoded.status == 301);
  CHECK(encoded.location == "/a%20b/");

  CHECK(handler.handle(get("/empty/"), site.root()).status == 403);
  CHECK(handler.handle(get("/missing.html"), site.root()).status == 404);
  CHECK(handler.handle(get("/missing/"), site.root()).status == 404);
  CHECK(handler.handle(get("/docs/guide.css/"), site.root()).status == 404);
  CHECK(handler.handle(get("/docs/guide.css/x"), site.root()).status == 404);
  CHECK(handler.handle(get("/index.html"), site.root() / "nonexistent").status == 404);

  StaticResponse css = handler.handle(get("/docs/guide.css"), site.root());
  REQUIRE(css.status == 200);
  CHECK(css.file->contentType() == "text/css; charset=utf-8");
}

TEST_CASE("StaticHandler hides dotfiles unless allowed", "[dataplane][static][handler]") {
  SiteDir site;
  site.write(".env", "PASSWORD=x");
  site.write(".well-known/security.txt", "Contact: mailto:security@example.com");

  StaticHandler denying;
  CHECK(denying.handle(get("/.env"), site.root()).status == 404);
  CHECK(denying.handle(get("/.well-known/security.txt"), site.root()).status == 200);

  StaticHandlerOptions options;
  options.dotfiles = DotfilePolicy::kAllow;
  StaticHandler allowing(options);
  StaticResponse response = allowing.handle(get("/.env"), site.root());
  REQUIRE(response.status == 200);
  CHECK(body(response) == "PASSWORD=x");
}

TEST_CASE("StaticHandler refuses files it must not serve", "[dataplane][static][handler]") {
  SiteDir site;
  REQUIRE(::mkfifo((site.root() / "pipe").c_str(), 0644) == 0);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string socketPath = (site.root() / "sock").string();
  REQUIRE(socketPath.size() < sizeof(address.sun_path));
  std::copy(socketPath.begin(), socketPath.end(), address.sun_path);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  ::close(sock);
  site.write("private.txt", "private");
  ::chmod((site.root() / "private.txt").c_str(), 0);

  StaticHandler handler;
  CHECK(handler.handle(get("/pipe"), site.root()).status == 403);
  CHECK(handler.handle(get("/sock"), site.root()).status == 403);
  // Root reads any file whatever its mode, so the unreadable case only means something otherwise.
  if (::geteuid() != 0) CHECK(handler.handle(get("/private.txt"), site.root()).status == 403);
}

TEST_CASE("StaticHandler allows only GET and HEAD", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("index.html", "home");
  StaticHandler handler;
  for (std::string_view method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "TRACE"}) {
    INFO(method);
    StaticRequest request = get("/index.html");
    request.method = method;
    StaticResponse response = handler.handle(request, site.root());
    CHECK(response.status == 405);
    CHECK(headers(response) == "Allow: GET, HEAD\r\n");
  }

  StaticRequest head = get("/index.html");
  head.method = "HEAD";
  StaticResponse response = handler.handle(head, site.root());
  CHECK(response.status == 200);
  CHECK(response.length == 4);
  CHECK_FALSE(response.sendBody);
  CHECK(handler.handle(get("/index.html"), site.root()).sendBody);
}

TEST_CASE("StaticHandler writes the full metadata of a 200", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("data.json", "{\"a\":1}");
  site.touch("data.json", 784111777);
  StaticHandler handler;
  StaticResponse response = handler.handle(get("/data.json"), site.root());
  REQUIRE(response.status == 200);
  CHECK(response.offset == 0);
  CHECK(response.length == 7);
  CHECK(headers(response) ==
        "Content-Length: 7\r\n"
        "Content-Type: application/json\r\n"
        "Accept-Ranges: bytes\r\n"
        "ETag: " +
            std::string(response.file->etag()) +
            "\r\n"
            "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
}

TEST_CASE("StaticHandler answers conditional requests with 304", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("page.html", "content");
  site.touch("page.html", 784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  StaticHandler handler;
  std::string etag(handler.handle(get("/page.html"), site.root()).file->etag());

  auto conditional = [&](std::string_view ifNoneMatch, std::string_view ifModifiedSince,
                         std::string_view method = "GET") {
    StaticRequest request = get("/page.html");
    request.method = method;
    request.ifNoneMatch = ifNoneMatch;
    request.ifModifiedSince = ifModifiedSince;
    return handler.handle(request, site.root());
  };

  StaticResponse matched = conditional(etag, "");
  CHECK(matched.status == 304);
  CHECK_FALSE(matched.sendBody);
  CHECK(headers(matched) ==
        "ETag: " + etag + "\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n");

  CHECK(conditional("\"other\", " + etag, "").status == 304);
  CHECK(conditional("W/" + etag, "").status == 304);
  CHECK(conditional("*", "").status == 304);
  CHECK(conditional(etag, "", "HEAD").status == 304);
  CHECK(conditional("\"other\"", "").status == 200);

  CHECK(conditional("", "Sun, 06 Nov 1994 08:49:37 GMT").status == 304);
  CHECK(conditional("", "Mon, 07 Nov 1994 00:00:00 GMT").status == 304);
  CHECK(conditional("", "Sat, 05 Nov 1994 00:00:00 GMT").status == 200);
  CHECK(conditional("", "garbage").status == 200);
  // If-None-Match decides alone when present, whatever If-Modified-Since says.
  CHECK(conditional("\"other\"", "Mon, 07 Nov 1994 00:00:00 GMT").status == 200);
  CHECK(conditional(etag, "Sat, 05 Nov 1994 00:00:00 GMT").status == 304);
}

TEST_CASE("StaticHandler serves a single byte range with 206", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("digits.txt", "0123456789");
  site.touch("digits.txt", 784111777);
  StaticHandler handler;

  auto ranged = [&](std::string_view range, std::string_view ifRange = "",
                    std::string_view method = "GET") {
    StaticRequest request = get("/digits.txt");
    request.method = method;
    request.range = range;
    request.ifRange = ifRange;
    return handler.handle(request, site.root());
  };

  StaticResponse partial = ranged("bytes=2-5");
  REQUIRE(partial.status == 206);
  CHECK(partial.offset == 2);
  CHECK(partial.length == 4);
  CHECK(partial.sendBody);
  CHECK(body(partial) == "2345");
  std::string etag(partial.file->etag());
  CHECK(headers(partial) ==
        "Content-Length: 4\r\n"
        "Content-Range: bytes 2-5/10\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Accept-Ranges: bytes\r\n"
        "ETag: " +
            etag +
            "\r\n"
            "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n");

  CHECK(body(ranged("bytes=7-")) == "789");
  CHECK(body(ranged("bytes=-3")) == "789");
  CHECK(body(ranged("bytes=8-100")) == "89");

  StaticResponse unsatisfiable = ranged("bytes=10-");
  CHECK(unsatisfiable.status == 416);
  CHECK_FALSE(unsatisfiable.sendBody);
  CHECK(headers(unsatisfiable) == "Content-Range: bytes */10\r\nAccept-Ranges: bytes\r\n");

  StaticResponse multiple = ranged("bytes=0-1,4-5");
  CHECK(multiple.status == 200);
  CHECK(body(multiple) == "0123456789");
  CHECK(ranged("bytes=5-2").status == 200);
  CHECK(ranged("lines=1-2").status == 200);

  // If-Range: the range applies only while the validator matches.
  CHECK(ranged("bytes=2-5", etag).status == 206);
  CHECK(ranged("bytes=2-5", "Sun, 06 Nov 1994 08:49:37 GMT").status == 206);
  CHECK(ranged("bytes=2-5", "\"stale\"").status == 200);
  CHECK(ranged("bytes=2-5", "W/" + etag).status == 200);
  CHECK(ranged("bytes=2-5", "Sun, 06 Nov 1994 08:49:36 GMT").status == 200);

  // Range is defined for GET only.
  StaticResponse head = ranged("bytes=2-5", "", "HEAD");
  CHECK(head.status == 200);
  CHECK(head.length == 10);
}

TEST_CASE("StaticHandler checks preconditions before ranges", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("digits.txt", "0123456789");
  StaticHandler handler;
  StaticRequest request = get("/digits.txt");
  std::string etag(handler.handle(request, site.root()).file->etag());
  request.ifNoneMatch = etag;
  request.range = "bytes=0-1";
  CHECK(handler.handle(request, site.root()).status == 304);
}

TEST_CASE("StaticHandler answers failed preconditions with 412", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("doc.txt", "content");
  site.touch("doc.txt", 784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  StaticHandler handler;
  std::string etag(handler.handle(get("/doc.txt"), site.root()).file->etag());

  auto conditional = [&](std::string_view ifMatch, std::string_view ifUnmodifiedSince) {
    StaticRequest request = get("/doc.txt");
    request.ifMatch = ifMatch;
    request.ifUnmodifiedSince = ifUnmodifiedSince;
    request.ifNoneMatch = "\"unrelated\"";
    return handler.handle(request, site.root());
  };

  StaticResponse failed = conditional("\"stale\"", "");
  CHECK(failed.status == 412);
  CHECK_FALSE(failed.sendBody);
  CHECK(headers(failed) ==
        "ETag: " + etag + "\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  CHECK(conditional("W/" + etag, "").status == 412);
  CHECK(conditional(etag, "").status == 200);
  CHECK(conditional("*", "").status == 200);

  CHECK(conditional("", "Sat, 05 Nov 1994 00:00:00 GMT").status == 412);
  CHECK(conditional("", "Sun, 06 Nov 1994 08:49:37 GMT").status == 200);
  CHECK(conditional("", "not a date").status == 200);
  // If-Match decides alone when present.
  CHECK(conditional(etag, "Sat, 05 Nov 1994 00:00:00 GMT").status == 200);
}

TEST_CASE("StaticHandler serves a root reached through a symlink", "[dataplane][static][handler]") {
  SiteDir site;
  site.write("real/page.html", "page");
  site.writeOutside("secret.txt", "secret");
  std::filesystem::path linkedRoot = site.base() / "current";
  std::filesystem::create_directory_symlink(site.root() / "real", linkedRoot);
  // Absolute links that name the root by its configured (symlinked) path or its real path.
  site.symlink("real/by-link", linkedRoot / "page.html");
  site.symlink("real/by-real", site.root() / "real" / "page.html");
  site.symlink("real/escape", site.base() / "secret.txt");
  StaticHandler handler;

  StaticResponse page = handler.handle(get("/page.html"), linkedRoot);
  REQUIRE(page.status == 200);
  CHECK(body(page) == "page");
  CHECK(body(handler.handle(get("/by-link"), linkedRoot)) == "page");
  CHECK(body(handler.handle(get("/by-real"), linkedRoot)) == "page");
  CHECK(handler.handle(get("/escape"), linkedRoot).status == 403);
}

TEST_CASE("StaticHandler answers 500 when it runs out of descriptors",
          "[dataplane][static][handler]") {
  SiteDir site;
  site.write("a.txt", "a");
  site.write("b.txt", "b");
  StaticHandler handler;
  REQUIRE(handler.handle(get("/a.txt"), site.root()).status == 200);
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtime itself needs descriptors to check the dynamic type of the logger when
  // the 500 is logged, and reports a false error when none is left. Release builds run this.
  WARN("descriptor exhaustion is not tested under the sanitizers");
  return;
#endif

  // Exhaust the descriptor table under a lowered limit, then put everything back.
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit lowered = saved;
  lowered.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  std::vector<int> filler;
  for (int fd = ::dup(0); fd >= 0; fd = ::dup(0)) filler.push_back(fd);

  StaticResponse cached = handler.handle(get("/a.txt"), site.root());
  StaticResponse uncached = handler.handle(get("/b.txt"), site.root());

  for (int fd : filler) ::close(fd);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);

  CHECK(cached.status == 200);  // a cached small file needs no descriptor
  CHECK(uncached.status == 500);
  CHECK(uncached.reason == "system error during lookup");
  CHECK(handler.handle(get("/b.txt"), site.root()).status == 200);
}

}  // namespace siteplane::staticfiles
