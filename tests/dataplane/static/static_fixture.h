#pragma once

// A site root under a temporary directory, with helpers to shape it, for the static file tests.

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "dataplane/static/file_cache.h"
#include "dataplane/static/open_file.h"
#include "tests/support/test_support.h"

namespace siteplane::staticfiles::testing {

class SiteDir {
 public:
  SiteDir() { std::filesystem::create_directories(root()); }
  // Everything outside the root lives next to it, in the same temporary directory.
  std::filesystem::path base() const { return temp_.path(); }
  std::filesystem::path root() const { return temp_.path() / "site"; }
  std::filesystem::path write(const std::string& relative, const std::string& content) const {
    return temp_.write("site/" + relative, content);
  }
  std::filesystem::path writeOutside(const std::string& relative,
                                     const std::string& content) const {
    return temp_.write(relative, content);
  }
  void symlink(const std::string& relative, const std::filesystem::path& target) const {
    std::filesystem::create_directories((root() / relative).parent_path());
    std::filesystem::create_symlink(target, root() / relative);
  }
  // Sets the modification time of a file under the root.
  void touch(const std::string& relative, std::time_t mtime) const {
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ::utimensat(AT_FDCWD, (root() / relative).c_str(), times, 0);
  }

 private:
  siteplane::testing::TempDir temp_;
};

// A clock tests move by hand.
class ManualClock {
 public:
  FileCache::Clock clock() const {
    auto now = now_;
    return [now] { return *now; };
  }
  void advance(std::chrono::milliseconds step) { *now_ += step; }

 private:
  std::shared_ptr<FileCache::TimePoint> now_ =
      std::make_shared<FileCache::TimePoint>(std::chrono::seconds(1000));
};

// The whole body of a file, read through OpenFile::read in chunks of `chunk` bytes.
inline std::string readAll(const OpenFile& file, size_t chunk = 4096) {
  std::string body;
  std::string buffer(chunk, '\0');
  uint64_t offset = 0;
  while (offset < file.size()) {
    auto n = file.read(offset, buffer.data(), buffer.size());
    if (!n || *n == 0) break;
    body.append(buffer.data(), *n);
    offset += *n;
  }
  return body;
}

}  // namespace siteplane::staticfiles::testing
