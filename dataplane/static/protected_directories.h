#pragma once

// Directories no site may serve from, whatever its root and the symlinks or bind mounts under it:
// serve's state directory (API token, CA and private keys) and the directories directly in it.
// The compiler already refuses a Site root that is, holds or lies inside the state directory;
// this is the data plane's own check, by identity (device and inode) rather than by name, so a
// bind mount or a directory renamed under a root cannot reach them either.
//
// Set once by the process before any worker serves (serve, after the state directory exists);
// read by every worker on the lookup path. No directory is protected until it is called.

#include <sys/types.h>

#include <filesystem>
#include <vector>

namespace siteplane::staticfiles {

// Protects each directory and the directories directly inside it (those that do not exist are
// skipped), replacing what was protected before ({} protects nothing). Call before the data
// plane starts; not thread-safe with lookups.
void protectDirectories(const std::vector<std::filesystem::path>& directories);

// Whether (device, inode) is a protected directory. Lock-free: the set is fixed before lookups.
bool isProtectedDirectory(dev_t device, ino_t inode) noexcept;

// Whether the directory open as `fd` really lies inside a protected directory (at any depth) or
// in a kernel pseudo filesystem (/proc, /sys, /dev), by the path the kernel reports for the open
// descriptor. A root named /proc/self/fd/N or /dev/fd/N leads wherever the process's descriptor
// N leads at that moment (a directory of the store, say): the name cannot be judged, only what
// was opened. One readlink per call.
bool opensProtectedTree(int fd) noexcept;

}  // namespace siteplane::staticfiles
