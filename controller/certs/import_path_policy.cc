#include "controller/certs/import_path_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace siteplane::certs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRefusal =
    "is not in a directory this object may import from (the manifest directory for objects "
    "declared by manifest files, and the --import-root directories; never the state directory)";

fs::path canonicalDir(const fs::path& dir) {
  std::error_code ec;
  fs::path absolute = fs::absolute(dir, ec);
  if (ec) absolute = dir;
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

// Component-wise: /srv/tls-old is not inside /srv/tls.
bool inside(const fs::path& path, const fs::path& dir) {
  if (dir.empty()) return false;
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

}  // namespace

ImportPathPolicy ImportPathPolicy::create(const ImportPathPolicyOptions& options) {
  ImportPathPolicy policy;
  if (!options.manifestsDir.empty()) policy.manifestsDir_ = canonicalDir(options.manifestsDir);
  for (const auto& root : options.importRoots)
    if (!root.empty()) policy.importRoots_.push_back(canonicalDir(root));
  for (const auto& dir : options.deniedDirs)
    if (!dir.empty()) policy.deniedDirs_.push_back(canonicalDir(dir));
  return policy;
}

bool ImportPathPolicy::allowed(const fs::path& canonical, ImportOrigin origin) const {
  for (const auto& denied : deniedDirs_)
    if (inside(canonical, denied)) return false;
  if (origin == ImportOrigin::kManifestFile && inside(canonical, manifestsDir_)) return true;
  return std::any_of(importRoots_.begin(), importRoots_.end(),
                     [&](const fs::path& root) { return inside(canonical, root); });
}

bool ImportPathPolicy::servableByApi(const fs::path& canonical) const {
  return allowed(canonical, ImportOrigin::kApi) ||
         (allowed(canonical, ImportOrigin::kManifestFile) && inside(canonical, manifestsDir_));
}

Status ImportPathPolicy::refusal(const fs::path& path) const {
  return Status::error(ErrorCode::kPathNotAllowed, path.string() + " " + kRefusal);
}

bool ImportPathPolicy::linksIntoDenied(const struct stat& file) const {
  // A hard link has no path to resolve: the name inside an allowed directory is as much the
  // file's as the one in the state directory. So a file with more than one link is refused when
  // a denied directory on its filesystem holds the same inode. The walk happens only for such
  // files (rare for certificates), never for the common single-link file.
  for (const auto& denied : deniedDirs_) {
    struct stat dir {};
    if (::stat(denied.c_str(), &dir) != 0 || dir.st_dev != file.st_dev) continue;
    std::error_code ec;
    for (fs::recursive_directory_iterator
             it(denied, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      struct stat entry {};
      if (::lstat(it->path().c_str(), &entry) == 0 && entry.st_ino == file.st_ino &&
          entry.st_dev == file.st_dev) {
        return true;
      }
    }
    if (ec) return true;  // the directory could not be walked whole: fail closed
  }
  return false;
}

Status ImportPathPolicy::check(const fs::path& path, ImportOrigin origin) const {
  if (!path.is_absolute()) return refusal(path);
  // The lexical form first, which touches no file: a path outside every allowed directory is
  // refused without the filesystem saying anything about it.
  fs::path lexical = path.lexically_normal();
  if (!allowed(lexical, origin)) return refusal(path);
  // Then where it really leads: a symlink inside an allowed directory may point anywhere.
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(lexical, ec);
  if (ec || !allowed(canonical, origin)) return refusal(path);
  return Status::ok();
}

Result<std::string> ImportPathPolicy::read(const fs::path& path, ImportOrigin origin,
                                           size_t maxBytes) const {
  if (Status checked = check(path, origin); !checked) return checked;
  // The check above and the open below are two lookups of the same name; a symlink swapped in
  // between would be followed by open(). So the file that was opened is checked again: the
  // kernel names it in /proc/self/fd/N with every symlink and ".." already resolved, and that
  // name, not the one we were given, must be inside an allowed directory. This keeps the
  // symlinks operators rely on (certbot's live/ -> archive/, a ConfigMap's ..data flip) working
  // as long as they stay inside the allowed directories, which RESOLVE_BENEATH or O_NOFOLLOW
  // per component would not. Without /proc the read is refused (fail closed).
  // O_NONBLOCK: opening a FIFO never waits for a writer; it is then refused as not regular.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    return Result<std::string>::error(path.string() + ": cannot open: " + std::strerror(errno));
  }
  char opened[4096];
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t length = ::readlink(link.c_str(), opened, sizeof opened - 1);
  if (length <= 0) return refusal(path);
  if (!allowed(fs::path(std::string(opened, static_cast<size_t>(length))), origin))
    return refusal(path);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return Result<std::string>::error(path.string() + ": cannot read: " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode))
    return Result<std::string>::error(path.string() + ": not a regular file");
  if (info.st_nlink > 1 && linksIntoDenied(info)) return refusal(path);
  if (static_cast<uintmax_t>(info.st_size) > maxBytes) {
    return Result<std::string>::error(path.string() + ": larger than " +
                                      std::to_string(maxBytes >> 20) +
                                      " MiB, not a certificate or key file");
  }
  std::string content;
  content.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t got = ::read(fd.get(), content.data() + done, content.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return Result<std::string>::error(path.string() + ": cannot read: " + std::strerror(errno));
    }
    if (got == 0) break;  // truncated while reading: what is there is parsed (and likely refused)
    done += static_cast<size_t>(got);
  }
  content.resize(done);
  return content;
}

}  // namespace siteplane::certs
