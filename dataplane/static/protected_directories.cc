#include "dataplane/static/protected_directories.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

namespace siteplane::staticfiles {
namespace {

using Identity = std::pair<dev_t, ino_t>;

std::vector<Identity>& identities() {
  static std::vector<Identity> set;  // written before any lookup, then only read
  return set;
}

void add(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  identities().emplace_back(st.st_dev, st.st_ino);
}

}  // namespace

void protectDirectories(const std::vector<std::filesystem::path>& directories) {
  identities().clear();
  for (const auto& dir : directories) {
    add(dir);
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

}  // namespace siteplane::staticfiles
