#pragma once

// Watches files that objects name in their spec (a Certificate's spec.source PEM or PKCS#12
// files), so that a replaced or rewritten file is picked up as soon as it changes rather than at
// the next periodic look.
//
//   - Each owner (an object key) registers the files it reads; the watcher puts one libuv fs event
//     watch on each of their directories, not on the files: inotify on a file follows its inode,
//     so it would miss the usual ways of replacing one — an editor's write-temp-then-rename,
//     certbot re-pointing a symlink, a Kubernetes Secret mount flipping its "..data" symlink.
//   - A symlinked file is watched in the directory of its link and in the directory it resolves
//     to, as those are where the replacements above happen.
//   - An event in a directory notifies the owners of a file with that name there, or of any file
//     there when the name starts with ".." (the Kubernetes AtomicWriter's entries) or is unknown.
//     Notifications are not debounced: the caller queues a key with a delay, and its work queue
//     coalesces a burst.
//   - A directory that does not exist (yet) cannot be watched; neither can one replaced after it
//     was watched until its owner registers again. Callers keep a slow periodic look as the
//     safety net and re-register on each look, which also re-arms the watch of a directory that
//     was replaced.
// Thread-safe: watch() may be called from any thread; notifications come on the watcher's own
// thread.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/event_loop/directory_watches.h"
#include "common/event_loop/event_loop_thread.h"
#include "common/status.h"

namespace siteplane::source {

struct FileWatcherOptions {
  // Called on the watcher's thread with the owner whose file changed. Must be quick (queue a key)
  // and must not call back into the watcher.
  std::function<void(const std::string& owner)> onChange;
};

class FileWatcher {
 public:
  // Starts the watching thread.
  static Result<std::unique_ptr<FileWatcher>> create(FileWatcherOptions options);
  ~FileWatcher();  // stops
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Sets the files `owner` reads (absolute paths), replacing what it registered before; an empty
  // list forgets the owner. Registering the same files again re-checks that their directories
  // are still the ones watched. Applied asynchronously on the watcher's thread; a no-op after
  // stop().
  void watch(const std::string& owner, std::vector<std::filesystem::path> files);

  // Stops watching and joins the thread; no notification comes after it returns. Idempotent.
  void stop();

  // Directories watched right now (tests).
  size_t watchedDirectories() const;
  // True once every watch() call so far has been applied by the watching thread: a change made
  // after that is seen (tests, which may not infer it from watchedDirectories when a registration
  // adds a file to a directory already watched).
  bool applied() const;

 private:
  explicit FileWatcher(FileWatcherOptions options);

  // The watching thread's side.
  void applyPending();
  void apply(const std::string& owner, const std::vector<std::filesystem::path>& files);
  bool attach(const std::string& owner, const std::string& directory,
              const std::set<std::string>& names);
  void detach(const std::string& owner, const std::string& directory);
  void onDirectoryEvent(const std::string& directory, std::string_view name, int status);

  const FileWatcherOptions options_;
  mutable std::mutex mutex_;  // guards pending_, stopped_, watchedCount_ and the counters
  // Registrations not yet applied by the watcher's thread, by owner (the latest wins).
  std::unordered_map<std::string, std::vector<std::filesystem::path>> pending_;
  bool stopped_ = false;
  size_t watchedCount_ = 0;
  uint64_t requested_ = 0;  // watch() calls
  uint64_t applied_ = 0;    // of them, applied by the watching thread

  std::unique_ptr<event_loop::EventLoopThread> thread_;
  // Touched on the watching thread only.
  std::unique_ptr<event_loop::DirectoryWatches> watches_;
  // Directory -> owner -> the names of its files there.
  std::map<std::string, std::map<std::string, std::set<std::string>>> owners_;
  std::unordered_map<std::string, std::set<std::string>> ownerDirectories_;
};

}  // namespace siteplane::source
