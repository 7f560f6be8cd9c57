#pragma once

#include <filesystem>
#include <string_view>

#include "common/unique_fd.h"

namespace siteplane::staticfiles {

// What a request path names beneath a site root.
struct Resolution {
  // 0: `fd` is the regular file to serve; 301: a directory named without its trailing slash;
  // 403: refused (escapes the root, not a regular file, unreadable, directory without index);
  // 404: missing; 500: unexpected system error (descriptor exhaustion, I/O error).
  int status = 500;
  std::string_view reason;    // short, static: for the access log
  int error = 0;              // the errno behind a 500, for the operator's log
  UniqueFd fd;                // the file, when status == 0
  std::string_view typeName;  // the name whose extension gives the Content-Type (points into the
                              // caller's path or indexFile)
};

// Opens `path` (normalized by decodeRequestPath: "/a/b", or "/a/" for a directory) beneath `root`
// such that nothing outside `root` can ever be opened, whatever the path or the symlinks under
// root say.
//
// Why a userspace walk: realpath() + a prefix check is racy (a symlink swapped between the check
// and the open escapes), and openat2(RESOLVE_BENEATH) is not available everywhere (kernels before
// 5.6, and container seccomp profiles that refuse it). So each component is opened relative to the
// descriptor of its parent with O_NOFOLLOW: a component that is replaced by a symlink between the
// lstat and the open fails with ELOOP instead of being followed. Symlinks found on the way are
// expanded by this walk itself, against a stack of the directories entered so far, so:
//   - a relative symlink may point anywhere inside the root ("../shared/logo.png" is fine) but a
//     ".." that would leave the root is refused (403);
//   - an absolute symlink is followed only when its target lies under the root (its configured
//     path or its realpath), and is then walked from the root descriptor again;
//   - at most 40 symlinks per lookup (as Linux's MAXSYMLINKS), so loops end with 403.
// Only regular files are served: FIFOs, sockets and devices are refused without being opened.
// A path holding a NUL byte is refused (403) whatever else it holds.
//
// A directory with a trailing slash serves `indexFile` from it (403 when there is none: no
// directory listings); without the slash it is 301 so that relative links in the index resolve.
Resolution resolveBeneath(const std::filesystem::path& root, std::string_view path,
                          std::string_view indexFile);

}  // namespace siteplane::staticfiles
