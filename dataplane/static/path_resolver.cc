#include "dataplane/static/path_resolver.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/static/protected_directories.h"

namespace siteplane::staticfiles {
namespace {

constexpr int kMaxSymlinks = 40;

Resolution fail(int status, std::string_view reason) {
  Resolution resolution;
  resolution.status = status;
  resolution.reason = reason;
  return resolution;
}

Resolution failErrno(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return fail(404, "not found");
    case ENAMETOOLONG:
      return fail(404, "name too long");
    case EACCES:
    case EPERM:
      return fail(403, "permission denied");
    case ELOOP:
      // O_NOFOLLOW met a symlink that was not one at lstat time: refuse rather than follow.
      return fail(403, "path changed during lookup");
    default: {
      Resolution resolution = fail(500, "system error during lookup");
      resolution.error = error;
      return resolution;
    }
  }
}

// Pushes the components of `text` onto `pending` so that the first one is popped first.
void pushComponents(std::string_view text, std::vector<std::string>& pending) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) slash = text.size();
    if (slash > start) parts.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.emplace_back(*it);
}

// When `target` (absolute) lies under `base`, returns true and the rest of it in `rest`.
bool underBase(std::string_view target, std::string_view base, std::string_view& rest) {
  while (base.size() > 1 && base.back() == '/') base.remove_suffix(1);
  if (base.empty() || target.substr(0, base.size()) != base) return false;
  rest = target.substr(base.size());
  if (base == "/") return true;
  return rest.empty() || rest.front() == '/';
}

// One lookup below an opened root: the components still to walk (next one last) and the
// directories entered so far (the current directory is the last one, or the root).
class Walk {
 public:
  Walk(const std::filesystem::path& root, int rootFd, std::string_view path,
       std::string_view indexFile)
      : root_(root),
        rootFd_(rootFd),
        indexFile_(indexFile),
        trailingSlash_(!path.empty() && path.back() == '/'),
        typeName_(path.substr(path.rfind('/') + 1)) {
    pushComponents(path, pending_);
  }

  Resolution run() {
    while (true) {
      while (!pending_.empty()) {
        std::string name = std::move(pending_.back());
        pending_.pop_back();
        if (name.empty() || name == ".") continue;
        if (name == "..") {
          // Only symlink targets produce ".." here (decodeRequestPath refuses it in requests).
          if (stack_.empty()) return fail(403, "symlink escapes the site root");
          stack_.pop_back();
          continue;
        }
        struct stat st {};
        if (::fstatat(current(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          int error = errno;
          if (error == ENOENT && indexTried_ && pending_.empty() && name == indexFile_)
            return fail(403, "directory has no index");
          return failErrno(error);
        }
        std::optional<Resolution> failed;
        if (S_ISLNK(st.st_mode)) {
          failed = expandSymlink(name);
        } else if (S_ISDIR(st.st_mode)) {
          failed = enter(name, st);
        } else {
          return openFile(name, st);
        }
        if (failed) return std::move(*failed);
      }
      // The walk ended on a directory.
      if (!trailingSlash_) return fail(301, "directory needs a trailing slash");
      if (indexTried_ || indexFile_.empty()) return fail(403, "directory has no index");
      indexTried_ = true;
      pending_.emplace_back(indexFile_);
    }
  }

 private:
  int current() const { return stack_.empty() ? rootFd_ : stack_.back().get(); }

  // Queues the symlink's target: relative from the current directory, absolute from the root
  // when it lies under the root (as configured or as its realpath).
  std::optional<Resolution> expandSymlink(const std::string& name) {
    if (++symlinks_ > kMaxSymlinks) return fail(403, "too many symlinks");
    char target[PATH_MAX];
    ssize_t length = ::readlinkat(current(), name.c_str(), target, sizeof(target));
    if (length < 0) return failErrno(errno);
    if (static_cast<size_t>(length) >= sizeof(target)) return fail(403, "symlink too long");
    std::string_view targetView(target, static_cast<size_t>(length));
    if (!targetView.empty() && targetView.front() == '/') {
      if (realRoot_.empty()) {  // computed on the first absolute symlink only
        char resolved[PATH_MAX];
        if (::realpath(root_.c_str(), resolved) == nullptr) return failErrno(errno);
        realRoot_ = resolved;
      }
      std::string_view rest;
      if (!underBase(targetView, root_.native(), rest) && !underBase(targetView, realRoot_, rest))
        return fail(403, "symlink escapes the site root");
      stack_.clear();  // walk the rest from the root again
      targetView = rest;
    }
    pushComponents(targetView, pending_);
    return std::nullopt;
  }

  std::optional<Resolution> enter(const std::string& name, const struct stat& st) {
    if (isProtectedDirectory(st.st_dev, st.st_ino)) return fail(403, "protected directory");
    UniqueFd dir(::openat(current(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) return failErrno(errno);
    stack_.push_back(std::move(dir));
    return std::nullopt;
  }

  Resolution openFile(const std::string& name, const struct stat& st) {
    if (!S_ISREG(st.st_mode)) return fail(403, "not a regular file");
    // A file in the middle of the path ("/index.html/x") or named as a directory ("/a.txt/").
    if (!pending_.empty() || (trailingSlash_ && !indexTried_)) return fail(404, "not found");
    // O_NONBLOCK: should the file be swapped for a FIFO after the lstat, open must not block.
    UniqueFd file(::openat(current(), name.c_str(),
                           O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!file.valid()) return failErrno(errno);
    struct stat opened {};
    if (::fstat(file.get(), &opened) != 0) return failErrno(errno);
    if (!S_ISREG(opened.st_mode)) return fail(403, "not a regular file");
    // Regular-file reads ignore O_NONBLOCK, but clear it so a caller handing the descriptor to
    // sendfile or splice sees ordinary blocking semantics.
    int flags = ::fcntl(file.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(file.get(), F_SETFL, flags & ~O_NONBLOCK);
    Resolution resolution;
    resolution.status = 0;
    resolution.reason = "ok";
    resolution.fd = std::move(file);
    resolution.typeName = indexTried_ ? indexFile_ : typeName_;
    return resolution;
  }

  const std::filesystem::path& root_;
  const int rootFd_;
  const std::string_view indexFile_;
  const bool trailingSlash_;
  const std::string_view typeName_;
  std::vector<UniqueFd> stack_;
  std::vector<std::string> pending_;
  int symlinks_ = 0;
  bool indexTried_ = false;
  std::string realRoot_;
};

}  // namespace

Resolution resolveBeneath(const std::filesystem::path& root, std::string_view path,
                          std::string_view indexFile) {
  UniqueFd rootFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootFd.valid()) {
    Resolution resolution = failErrno(errno);
    if (resolution.status == 404) resolution.reason = "site root not found";
    return resolution;
  }
  // The state directory is never served (protected_directories.h): not as the root (a root
  // re-pointed after the compiler checked it) nor as any directory the walk enters below.
  struct stat rootStat {};
  if (::fstat(rootFd.get(), &rootStat) != 0) return failErrno(errno);
  if (isProtectedDirectory(rootStat.st_dev, rootStat.st_ino) || opensProtectedTree(rootFd.get()))
    return fail(403, "protected directory");
  // The walk hands each component to the kernel as a C string: "..\0x" would be "..". No file
  // name holds a NUL, so such a path names nothing; refuse it before it is split.
  if (path.find('\0') != std::string_view::npos) return fail(403, "NUL byte in path");
  return Walk(root, rootFd.get(), path, indexFile).run();
}

}  // namespace siteplane::staticfiles
