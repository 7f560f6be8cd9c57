#include "dataplane/static/content_type.h"

#include <catch2/catch.hpp>

namespace siteplane::staticfiles {

TEST_CASE("contentTypeFor maps common extensions", "[dataplane][static][content-type]") {
  CHECK(contentTypeFor("index.html") == "text/html; charset=utf-8");
  CHECK(contentTypeFor("/a/b/INDEX.HTM") == "text/html; charset=utf-8");
  CHECK(contentTypeFor("style.css") == "text/css; charset=utf-8");
  CHECK(contentTypeFor("app.js") == "text/javascript; charset=utf-8");
  CHECK(contentTypeFor("data.json") == "application/json");
  CHECK(contentTypeFor("logo.svg") == "image/svg+xml");
  CHECK(contentTypeFor("a.png") == "image/png");
  CHECK(contentTypeFor("a.jpg") == "image/jpeg");
  CHECK(contentTypeFor("a.jpeg") == "image/jpeg");
  CHECK(contentTypeFor("a.gif") == "image/gif");
  CHECK(contentTypeFor("a.webp") == "image/webp");
  CHECK(contentTypeFor("favicon.ico") == "image/x-icon");
  CHECK(contentTypeFor("notes.txt") == "text/plain; charset=utf-8");
  CHECK(contentTypeFor("feed.xml") == "application/xml");
  CHECK(contentTypeFor("doc.pdf") == "application/pdf");
  CHECK(contentTypeFor("module.wasm") == "application/wasm");
  CHECK(contentTypeFor("font.woff2") == "font/woff2");
  CHECK(contentTypeFor("movie.mp4") == "video/mp4");
}

TEST_CASE("contentTypeFor falls back to application/octet-stream",
          "[dataplane][static][content-type]") {
  for (const char* name : {"README", "archive.unknown", ".profile", "dir.d/file", "trailing.",
                           "a.verylongextensionthatisnotinthetable"}) {
    INFO(name);
    CHECK(contentTypeFor(name) == "application/octet-stream");
  }
}

}  // namespace siteplane::staticfiles
