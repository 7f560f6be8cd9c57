#pragma once

// The libuv fs-event watches of a set of directories, on one loop: the one directory watcher that
// the manifest source (every directory of the tree) and the file watcher (the directories of the
// files objects name) both use.
//
//   - A watch is on a directory, not a file: inotify on a file follows its inode, so it misses the
//     usual ways of replacing one (an editor's write-temp-then-rename, a Kubernetes mount
//     flipping its "..data" symlink).
//   - Each watch remembers the directory's identity (device and inode) when it was armed. Asked to
//     watch the same path again, it re-arms when the path names another directory by now (a
//     ConfigMap flip, a directory deleted and created again), since the old watch sees nothing.
//   - A directory that cannot be watched (gone, no permission, out of inotify watches) is logged
//     and not watched; callers keep a periodic look as the safety net and ask again.
// Loop thread only. Each handle is freed in its close callback (UvHandle), so an event already
// queued for a watch that is being closed never reaches freed memory.

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/event_loop/handle.h"

namespace siteplane::event_loop {

struct DirectoryIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const DirectoryIdentity&) const = default;
};

class DirectoryWatches {
 public:
  // Called on the loop's thread with the watched directory (as it was given), the name of the
  // entry that changed ("" when libuv does not say) and libuv's status (< 0: an error, e.g. a
  // queue overflow: anything in the directory may have changed). Must not call back into this.
  using OnEvent =
      std::function<void(const std::string& directory, std::string_view name, int status)>;

  DirectoryWatches(uv_loop_t* loop, std::string logName, OnEvent onEvent)
      : loop_(loop), logName_(std::move(logName)), onEvent_(std::move(onEvent)) {}
  ~DirectoryWatches() { clear(); }
  DirectoryWatches(const DirectoryWatches&) = delete;
  DirectoryWatches& operator=(const DirectoryWatches&) = delete;

  // Watches `directory` as the directory `identity` names, re-arming a watch armed on another
  // one. False (and no watch) when it cannot be watched.
  bool watch(const std::string& directory, DirectoryIdentity identity);
  // The same with the identity stat() gives now; false when the path is no directory (any watch
  // on it is dropped: it sees nothing any more).
  bool watch(const std::string& directory);
  void unwatch(const std::string& directory);
  // Watches exactly these directories: the others are dropped.
  void watchExactly(const std::map<std::string, DirectoryIdentity>& directories);
  void clear();

  bool watching(const std::string& directory) const { return watches_.count(directory) != 0; }
  size_t size() const { return watches_.size(); }

 private:
  struct Watch {
    DirectoryWatches* owner = nullptr;
    std::string directory;
    DirectoryIdentity identity;
    UvHandle<uv_fs_event_t> handle;
  };
  static void onFsEvent(uv_fs_event_t* handle, const char* filename, int events,
                        int status) noexcept;

  uv_loop_t* loop_;
  const std::string logName_;
  const OnEvent onEvent_;
  // By directory. A Watch is the data of its handle; it is erased (and its handle closed) only on
  // the loop's thread, and libuv runs no fs callback of a closed handle.
  std::map<std::string, std::unique_ptr<Watch>> watches_;
};

}  // namespace siteplane::event_loop
