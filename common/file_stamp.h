#pragma once

// What a file looked like at one stat(): enough to tell, without reading it, that it was replaced
// (another inode: an editor's rename, a ConfigMap's symlink flip) or rewritten in place (size or
// times). Used wherever a file's content is kept decoded and must be read again once it changes.

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <optional>

namespace siteplane {

struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t modifiedNanos = 0;
  int64_t changedNanos = 0;
  bool operator==(const FileStamp&) const = default;

  // The stamp of `path` (through symlinks unless `followLinks` is false), or nullopt when it
  // cannot be stat()ed (errno says why).
  static std::optional<FileStamp> of(const std::filesystem::path& path, bool followLinks = true) {
    struct stat info {};
    int result = followLinks ? ::stat(path.c_str(), &info) : ::lstat(path.c_str(), &info);
    if (result != 0) return std::nullopt;
    return FileStamp{static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
                     static_cast<int64_t>(info.st_size), nanos(info.st_mtim), nanos(info.st_ctim)};
  }

 private:
  static int64_t nanos(const struct timespec& time) {
    return static_cast<int64_t>(time.tv_sec) * 1000000000 + time.tv_nsec;
  }
};

}  // namespace siteplane
