#include "dataplane/static/protected_directories.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

namespace siteplane::staticfiles {
namespace {

using Identity = std::pair<dev_t, ino_t>;

std::vector<Identity>& identities() {
  static std::vector<Identity> set;  // written before any lookup, then only read
  return set;
}

std::vector<std::string>& protectedPaths() {
  static std::vector<std::string> paths;  // canonical, no trailing '/'; written before lookups
  return paths;
}

// Component-wise: /srv/state-old is not inside /srv/state.
bool within(std::string_view path, std::string_view dir) {
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

void add(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  identities().emplace_back(st.st_dev, st.st_ino);
}

}  // namespace

void protectDirectories(const std::vector<std::filesystem::path>& directories) {
  identities().clear();
  protectedPaths().clear();
  for (const auto& dir : directories) {
    add(dir);
    std::error_code canonicalError;
    auto canonical = std::filesystem::canonical(dir, canonicalError);
    if (!canonicalError) protectedPaths().push_back(canonical.string());
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code typeError;
      if (it->is_directory(typeError)) add(it->path());
    }
  }
}

bool isProtectedDirectory(dev_t device, ino_t inode) noexcept {
  const auto& set = identities();
  return std::find(set.begin(), set.end(), Identity{device, inode}) != set.end();
}

bool opensProtectedTree(int fd) noexcept {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  ssize_t length = ::readlink(link, target, sizeof target);
  // Unknown is refused once something is protected: without /proc the descriptor's path cannot
  // be told, and a path that fills the buffer may be cut.
  if (length <= 0 || static_cast<size_t>(length) >= sizeof target) return !protectedPaths().empty();
  std::string_view path(target, static_cast<size_t>(length));
  for (std::string_view pseudo : {"/proc", "/sys", "/dev"})
    if (within(path, pseudo)) return true;
  for (const auto& dir : protectedPaths())
    if (within(path, dir)) return true;
  return false;
}

}  // namespace siteplane::staticfiles
