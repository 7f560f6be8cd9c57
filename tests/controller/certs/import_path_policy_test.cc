#include "controller/certs/import_path_policy.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/test_support.h"

using namespace siteplane;
using namespace siteplane::certs;
namespace fs = std::filesystem;

namespace {

struct Layout {
  Layout() {
    dir.write("manifests/tls/site.key", "manifest key");
    dir.write("roots/a/site.key", "root key");
    dir.write("roots-old/site.key", "sibling with a common prefix");
    dir.write("roots/state/certificates/default/victim/tls.key", "victim key");
    dir.write("outside/secret.key", "secret");
    fs::create_symlink(dir.path() / "outside", dir.path() / "roots" / "escape");
    fs::create_symlink(dir.path() / "roots" / "a", dir.path() / "roots" / "inner");
  }
  ImportPathPolicy policy() const {
    return ImportPathPolicy::create(
        {dir.path() / "manifests", {dir.path() / "roots"}, {dir.path() / "roots" / "state"}});
  }
  fs::path at(const std::string& relative) const { return dir.path() / relative; }
  testing::TempDir dir;
};

}  // namespace

TEST_CASE("ImportPathPolicy allows the import roots, and the manifest directory only for files",
          "[controller][certs][import-policy]") {
  Layout l;
  auto policy = l.policy();
  CHECK(policy.check(l.at("roots/a/site.key"), ImportOrigin::kApi));
  CHECK(policy.check(l.at("roots/inner/site.key"), ImportOrigin::kApi));  // symlink within
  CHECK(policy.check(l.at("roots/a/missing.key"), ImportOrigin::kApi));
  CHECK(policy.check(l.at("manifests/tls/site.key"), ImportOrigin::kManifestFile));
  CHECK_FALSE(policy.check(l.at("manifests/tls/site.key"), ImportOrigin::kApi));
  CHECK(policy.read(l.at("roots/a/site.key"), ImportOrigin::kApi).value() == "root key");
  CHECK(policy.read(l.at("manifests/tls/site.key"), ImportOrigin::kManifestFile).value() ==
        "manifest key");
}

TEST_CASE(
    "ImportPathPolicy refuses the state directory, symlinks and dot-dot that lead out, and "
    "says nothing about the file",
    "[controller][certs][import-policy]") {
  Layout l;
  auto policy = l.policy();
  struct Case {
    std::string path;
    ImportOrigin origin;
  };
  std::vector<Case> refused = {
      {"roots/state/certificates/default/victim/tls.key", ImportOrigin::kApi},
      {"roots/state/certificates/default/victim/tls.key", ImportOrigin::kManifestFile},
      {"roots/escape/secret.key", ImportOrigin::kApi},
      {"roots/a/../../outside/secret.key", ImportOrigin::kApi},
      {"roots/a/../state/certificates/default/victim/tls.key", ImportOrigin::kApi},
      {"roots-old/site.key", ImportOrigin::kApi},
      {"outside/secret.key", ImportOrigin::kManifestFile},
      {"outside/missing.key", ImportOrigin::kApi},
  };
  for (const auto& c : refused) {
    INFO(c.path);
    auto checked = policy.check(l.at(c.path), c.origin);
    REQUIRE_FALSE(checked);
    CHECK(checked.message() ==
          l.at(c.path).string() +
              " is not in a directory this object may import from (the manifest directory for "
              "objects declared by manifest files, and the --import-root directories; never the "
              "state directory)");
    CHECK(checked.code() == ErrorCode::kPathNotAllowed);
    auto read = policy.read(l.at(c.path), c.origin);
    REQUIRE_FALSE(read);
    CHECK(read.message() == checked.message());
  }
  CHECK_FALSE(policy.check("relative/site.key", ImportOrigin::kApi));
}

TEST_CASE("ImportPathPolicy never blocks on a FIFO and reads only regular files",
          "[controller][certs][import-policy]") {
  Layout l;
  auto policy = l.policy();
  REQUIRE(::mkfifo(l.at("roots/a/fifo.key").c_str(), 0600) == 0);
  auto read = policy.read(l.at("roots/a/fifo.key"), ImportOrigin::kApi);  // returns at once
  REQUIRE_FALSE(read);
  CHECK_THAT(read.message(), Catch::Contains("not a regular file"));
  auto directory = policy.read(l.at("roots/a"), ImportOrigin::kApi);
  CHECK_FALSE(directory);
}

TEST_CASE(
    "ImportPathPolicy refuses a hard link to a state-directory file, and reads other "
    "linked files",
    "[controller][certs][import-policy]") {
  Layout l;
  auto policy = l.policy();
  // A hard link has no path leading out: only the inode tells it is the victim's key.
  fs::create_hard_link(l.at("roots/state/certificates/default/victim/tls.key"),
                       l.at("roots/a/linked.key"));
  auto read = policy.read(l.at("roots/a/linked.key"), ImportOrigin::kApi);
  REQUIRE_FALSE(read);
  CHECK(read.code() == ErrorCode::kPathNotAllowed);
  CHECK(read.message().find("victim") == std::string::npos);

  // Two names for one file, both allowed (a deploy tool's hard-linked release): still read.
  fs::create_hard_link(l.at("roots/a/site.key"), l.at("roots/a/also.key"));
  auto allowed = policy.read(l.at("roots/a/also.key"), ImportOrigin::kApi);
  REQUIRE(allowed);
  CHECK(*allowed == "root key");
}
