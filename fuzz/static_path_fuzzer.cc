// Fuzz target: the static file path (dataplane/static): decodeRequestPath on a raw
// request-target, then resolveBeneath on a real site root full of hostile entries.
//
// The oracle is the one the module promises: whatever the bytes, nothing outside the root is
// ever opened. The root holds files, a directory with an index, symlinks that stay inside and
// symlinks that leave it (relative, absolute, through "..", a loop), a FIFO; next to the root
// lies a secret. Every descriptor resolveBeneath returns must be one of the regular files under
// the root. A decoded path must also have the shape decodeRequestPath documents.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "dataplane/static/path_resolver.h"
#include "dataplane/static/request_path.h"
#include "fuzz/fuzz_check.h"

namespace {

namespace fs = std::filesystem;
using siteplane::staticfiles::decodeRequestPath;
using siteplane::staticfiles::DotfilePolicy;
using siteplane::staticfiles::resolveBeneath;

struct Fixture {
  fs::path root;
  std::set<std::pair<dev_t, ino_t>> servable;  // every regular file under root
};

void writeFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << content;
}

void symlink(const std::string& target, const fs::path& link) {
  FUZZ_CHECK(::symlink(target.c_str(), link.c_str()) == 0, "symlink " + link.string());
}

Fixture makeFixture() {
  Fixture fixture;
  fs::path base = siteplane::fuzz::scratchDirectory() / "static";
  fixture.root = base / "www";
  writeFile(base / "secret.txt", "outside the root\n");
  writeFile(base / "www-sibling" / "secret.txt", "a sibling whose name extends the root's\n");
  writeFile(fixture.root / "index.html", "index\n");
  writeFile(fixture.root / "a.txt", "a\n");
  writeFile(fixture.root / "docs" / "index.html", "docs\n");
  writeFile(fixture.root / "docs" / "deep" / "b.css", "b\n");
  writeFile(fixture.root / ".well-known" / "security.txt", "contact\n");
  writeFile(fixture.root / ".git" / "config", "dotfile\n");
  writeFile(fixture.root / "%2e%2e" / "literal.txt", "a directory whose name looks encoded\n");
  fs::create_directories(fixture.root / "empty");
  symlink("a.txt", fixture.root / "inside-link");
  symlink("../docs/deep", fixture.root / "docs" / "up-and-down");
  symlink("../secret.txt", fixture.root / "escape");
  symlink("../../secret.txt", fixture.root / "docs" / "escape2");
  symlink("../www-sibling/secret.txt", fixture.root / "sibling");
  symlink((base / "secret.txt").string(), fixture.root / "absolute-out");
  symlink((fixture.root / "docs").string(), fixture.root / "absolute-in");
  symlink(base.string(), fixture.root / "absolute-parent");
  symlink("loop-b", fixture.root / "loop-a");
  symlink("loop-a", fixture.root / "loop-b");
  symlink(".", fixture.root / "self");
  symlink("..", fixture.root / "docs" / "parent");
  FUZZ_CHECK(::mkfifo((fixture.root / "fifo").c_str(), 0600) == 0, "mkfifo");
  for (const auto& entry : fs::recursive_directory_iterator(fixture.root)) {
    // symlink_status: the loops must not be followed here either.
    if (!fs::is_regular_file(entry.symlink_status())) continue;
    struct stat st {};
    FUZZ_CHECK(::stat(entry.path().c_str(), &st) == 0, entry.path().string());
    fixture.servable.insert({st.st_dev, st.st_ino});
  }
  return fixture;
}

const Fixture& fixture() {
  static const Fixture instance = makeFixture();
  return instance;
}

void checkDecoded(const std::string& path, DotfilePolicy policy) {
  FUZZ_CHECK(!path.empty() && path.front() == '/', "decoded path must start with '/': " + path);
  FUZZ_CHECK(path.find('\0') == std::string::npos, "NUL in decoded path");
  FUZZ_CHECK(path.find('\\') == std::string::npos, "backslash in decoded path: " + path);
  FUZZ_CHECK(path.find("//") == std::string::npos, "empty segment: " + path);
  size_t start = 1;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view segment(path.data() + start, end - start);
    FUZZ_CHECK(segment != "." && segment != "..", "dot segment survived: " + path);
    if (policy == DotfilePolicy::kDeny && !segment.empty() && segment.front() == '.') {
      FUZZ_CHECK(segment == ".well-known", "dotfile allowed under kDeny: " + path);
    }
    start = end + 1;
  }
}

void checkResolved(std::string_view path) {
  const Fixture& f = fixture();
  for (std::string_view index : {std::string_view("index.html"), std::string_view("")}) {
    auto resolution = resolveBeneath(f.root, path, index);
    switch (resolution.status) {
      case 0: {
        FUZZ_CHECK(resolution.fd.valid(), "status 0 without a descriptor");
        struct stat st {};
        FUZZ_CHECK(::fstat(resolution.fd.get(), &st) == 0, "fstat");
        FUZZ_CHECK(S_ISREG(st.st_mode), "served something that is not a regular file");
        FUZZ_CHECK(f.servable.count({st.st_dev, st.st_ino}) == 1,
                   "served a file outside the root for " + std::string(path));
        break;
      }
      case 301:
      case 403:
      case 404:
        FUZZ_CHECK(!resolution.fd.valid(), "a refusal with an open descriptor");
        break;
      default:
        // 500 is for descriptor exhaustion and I/O errors, neither of which a path can cause.
        FUZZ_CHECK(false, "unexpected status " + std::to_string(resolution.status) + " (" +
                              std::string(resolution.reason) + ") for " + std::string(path));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string decoded;
  for (DotfilePolicy policy : {DotfilePolicy::kDeny, DotfilePolicy::kAllow}) {
    auto check = decodeRequestPath(target, policy, decoded);
    if (!check.ok()) {
      FUZZ_CHECK(check.status == 400 || check.status == 403 || check.status == 404,
                 "decode status " + std::to_string(check.status));
      continue;
    }
    checkDecoded(decoded, policy);
    checkResolved(decoded);
  }
  // resolveBeneath promises containment "whatever the path", not only for decoded ones: the raw
  // bytes (with "..", "//", backslashes) must not escape either.
  checkResolved(target);
  return 0;
}
