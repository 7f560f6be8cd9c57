#pragma once

// Files that survive a crash, for both stores (the object store and the certificate store): the
// write, fsync, rename, fsync-the-directory sequence spelled once, and the syncs a batch of
// writes shares. Every error names the path and what failed ("cannot fsync /state/x: ...").

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane::durable {

struct NewFile {
  mode_t mode = 0600;
  // O_EXCL: fail if the path exists, so a file is never reused or followed and never briefly has
  // another mode (keys). Otherwise an existing file is truncated (a temporary left by a crash).
  bool exclusive = false;
  bool sync = true;  // fsync before close: the content is on disk when this returns
};

// Creates `path` as `options` say and writes `content`. A failed write leaves the file behind;
// callers that need all-or-nothing use replaceFile.
Status writeFile(const std::filesystem::path& path, std::string_view content, NewFile options);

// Replaces `path` by `content` atomically and durably: `temp` is written and fsynced, renamed
// over `path`, and the directory fsynced. `temp` is removed on failure.
Status replaceFile(const std::filesystem::path& path, const std::filesystem::path& temp,
                   std::string_view content, mode_t mode = 0600);

// Makes a directory's entries (creations, renames, removals) durable.
Status syncDirectory(const std::filesystem::path& dir);

// Makes everything written to the file system holding `dir` durable: one sync for many files.
Status syncFileSystem(const std::filesystem::path& dir);

// Creates `dir` with `mode` unless it exists as a directory, and makes its creation durable.
Status makeDirectory(const std::filesystem::path& dir, mode_t mode = 0700);

// A secret (a private key): `path` replaced atomically and durably by `content` with mode 0600,
// after the directories from `root` down to its parent are made with mode 0700 (one that exists
// is tightened to it). `path` must lie below `root`.
Status writePrivateFile(const std::filesystem::path& root, const std::filesystem::path& path,
                        std::string_view content);

// The whole content of a regular file.
Result<std::string> readFile(const std::filesystem::path& path);

}  // namespace siteplane::durable
