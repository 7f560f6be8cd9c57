#include "dataplane/static/protected_directories.h"

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "common/unique_fd.h"
#include "dataplane/static/path_resolver.h"
#include "tests/support/test_support.h"

namespace siteplane::staticfiles {

TEST_CASE("resolveBeneath never serves a protected directory, as the root or below it",
          "[dataplane][static][protected]") {
  siteplane::testing::TempDir dir;
  dir.write("www/index.html", "public");
  dir.write("state/kubeconfig", "secret");
  dir.write("state/api/token", "secret");
  dir.write("state/certificates/default/a/tls.key", "secret");
  std::filesystem::create_symlink("../state", dir.path() / "www" / "state-link");
  protectDirectories({dir.path() / "state"});

  // A root that holds the state directory: everything else is served, the state never.
  CHECK(resolveBeneath(dir.path(), "/www/index.html", "index.html").status == 0);
  CHECK(resolveBeneath(dir.path(), "/state/kubeconfig", "").status == 403);
  CHECK(resolveBeneath(dir.path(), "/state/api/token", "").status == 403);
  CHECK(resolveBeneath(dir.path(), "/www/state-link/api/token", "").status == 403);
  // The state directory or one directly in it as the root.
  CHECK(resolveBeneath(dir.path() / "state", "/kubeconfig", "").status == 403);
  CHECK(resolveBeneath(dir.path() / "state" / "api", "/token", "").status == 403);

  protectDirectories({});  // this binary's other tests protect nothing
  CHECK(resolveBeneath(dir.path(), "/state/kubeconfig", "").status == 0);
}

TEST_CASE(
    "resolveBeneath judges a root by the directory it opens, at any depth of the state directory",
    "[dataplane][static][protected]") {
  siteplane::testing::TempDir dir;
  dir.write("www/index.html", "public");
  dir.write("state/certificates/default/ca/tls.key", "secret");
  protectDirectories({dir.path() / "state"});
  // A root named through the process's own descriptors leads wherever descriptor N leads now:
  // here a directory three levels inside the state directory.
  UniqueFd held(::open((dir.path() / "state" / "certificates" / "default").c_str(),
                       O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(held.valid());
  const std::string viaFd = "/proc/self/fd/" + std::to_string(held.get());
  CHECK(resolveBeneath(viaFd, "/ca/tls.key", "").status == 403);
  CHECK(
      resolveBeneath(dir.path() / "state" / "certificates" / "default", "/ca/tls.key", "").status ==
      403);
  // The kernel's trees are never content, whatever is protected.
  CHECK(resolveBeneath("/proc/self", "/environ", "").status == 403);
  CHECK(resolveBeneath(dir.path() / "www", "/index.html", "index.html").status == 0);

  protectDirectories({});
  CHECK(resolveBeneath(viaFd, "/ca/tls.key", "").status == 0);
}

}  // namespace siteplane::staticfiles
