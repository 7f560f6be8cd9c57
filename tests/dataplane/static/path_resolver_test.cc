#include "dataplane/static/path_resolver.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/test_support.h"

namespace siteplane::staticfiles {

TEST_CASE("resolveBeneath refuses a path with a NUL byte, which the kernel would cut short",
          "[dataplane][static][traversal]") {
  // Found by the static_path fuzzer: the component "..\0x" reached fstatat as the C string "..",
  // so "/..\0x/secret.txt" opened the file next to the root.
  siteplane::testing::TempDir dir;
  dir.write("www/index.html", "public");
  dir.write("secret.txt", "outside the root");
  const auto root = dir.path() / "www";
  const std::string escape("/..\0x/secret.txt", 16);
  CHECK(resolveBeneath(root, escape, "index.html").status == 403);
  CHECK(resolveBeneath(root, std::string("/index.html\0.txt", 16), "index.html").status == 403);
  CHECK(resolveBeneath(root, "/index.html", "index.html").status == 0);
}

}  // namespace siteplane::staticfiles
