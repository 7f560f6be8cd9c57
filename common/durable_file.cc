#include "common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/unique_fd.h"

namespace siteplane::durable {
namespace {

Status errnoError(const std::string& what, int error = errno) {
  return Status::error(what + ": " + std::strerror(error));
}

Status writeAll(int fd, std::string_view content, const std::filesystem::path& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("cannot write " + path.string());
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Status writeFile(const std::filesystem::path& path, std::string_view content, NewFile options) {
  const int flags =
      O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (options.exclusive ? O_EXCL : O_TRUNC);
  UniqueFd file(::open(path.c_str(), flags, options.mode));
  if (!file.valid()) return errnoError("cannot create " + path.string());
  if (Status written = writeAll(file.get(), content, path); !written) return written;
  if (options.sync && ::fsync(file.get()) != 0) return errnoError("cannot fsync " + path.string());
  if (!file.close()) return errnoError("cannot close " + path.string());
  return Status::ok();
}

Status replaceFile(const std::filesystem::path& path, const std::filesystem::path& temp,
                   std::string_view content, mode_t mode) {
  if (Status written = writeFile(temp, content, {mode, false, true}); !written) {
    ::unlink(temp.c_str());
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return errnoError("cannot rename " + temp.string() + " to " + path.string(), error);
  }
  // The rename is durable only once the directory entry is.
  return syncDirectory(path.parent_path());
}

Status syncDirectory(const std::filesystem::path& dir) {
  UniqueFd handle(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!handle.valid()) return errnoError("cannot open " + dir.string());
  if (::fsync(handle.get()) != 0) return errnoError("cannot fsync " + dir.string());
  return Status::ok();
}

Status syncFileSystem(const std::filesystem::path& dir) {
  UniqueFd handle(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!handle.valid()) return errnoError("cannot open " + dir.string());
  if (::syncfs(handle.get()) != 0)
    return errnoError("cannot sync the file system of " + dir.string());
  return Status::ok();
}

Status makeDirectory(const std::filesystem::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) return syncDirectory(dir.parent_path());
  if (errno != EEXIST) return errnoError("cannot create " + dir.string());
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0) return errnoError("cannot stat " + dir.string());
  if (!S_ISDIR(info.st_mode)) return Status::error(dir.string() + " exists and is not a directory");
  return Status::ok();
}

Status writePrivateFile(const std::filesystem::path& root, const std::filesystem::path& path,
                        std::string_view content) {
  std::vector<std::filesystem::path> levels;
  for (auto dir = path.parent_path(); !dir.empty() && dir != root.parent_path();
       dir = dir.parent_path()) {
    levels.push_back(dir);
    if (dir == root) break;
  }
  for (auto level = levels.rbegin(); level != levels.rend(); ++level) {
    if (Status made = makeDirectory(*level, 0700); !made) return made;
    if (::chmod(level->c_str(), 0700) != 0) return errnoError("cannot chmod " + level->string());
  }
  std::filesystem::path temp = path;
  temp += ".tmp";
  return replaceFile(path, temp, content, 0600);
}

Result<std::string> readFile(const std::filesystem::path& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return Result<std::string>::error(std::strerror(errno));
  std::string content;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result<std::string>::error(std::strerror(errno));
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

}  // namespace siteplane::durable
