#pragma once

// The manifest-directory source (GitOps): every *.yaml / *.yml file under a directory, kept in the
// store as the objects it declares.
//
//   - Recursive; names starting with '.' are skipped. A Kubernetes ConfigMap mount works as is: its
//     top-level entries are symlinks through "..data" (a symlink to "..<timestamp>/"), so the walk
//     reads the current data through them, and the atomic flip of "..data" is an event in the
//     watched top directory that triggers a rescan.
//   - Watched with libuv fs events on every directory (Linux inotify is not recursive; new
//     directories get a watcher on the next scan), debounced so that an editor's write-temp-then-
//     rename or a burst of copies costs one scan, plus a slow periodic rescan as a safety net.
//     Scans are level-triggered: each compares the whole directory with the store.
//   - A file owns the objects it declares, recorded in the annotation siteplane.io/manifest-file
//     (the path relative to the directory). An object no file declares any more is deleted.
//     A second file declaring an object another file already declares is an error for that file,
//     and that object is skipped in it.
//   - A file that fails to read, parse or validate changes nothing: its objects keep their last
//     good version (and are not pruned). Its errors (file:line:column, field path) are logged once
//     per change of the file and recorded as a Kubernetes Event (reason InvalidManifest), removed
//     again when the file is fixed or deleted.
//   - An entry that cannot be a manifest is reported the same way, never skipped silently: a
//     FIFO, socket or device with a manifest name, a symlink loop, a dangling manifest symlink.
//     It is never opened (the type comes from stat(); files are opened O_NONBLOCK and checked
//     again on the descriptor), so a FIFO can never block the source.
//   - SIGHUP on serve, or rescan(), scans at once.
//   - The store is written only where a file's spec, labels or annotations differ from what is
//     stored, so rescans cause no churn.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/annotations.h"
#include "common/event_loop/directory_watches.h"
#include "common/event_loop/event_loop_thread.h"
#include "common/file_stamp.h"
#include "common/status.h"
#include "controller/events/event_recorder.h"
#include "controller/source/source.h"
#include "controller/source/sync_plan.h"
#include "controller/store/store.h"

namespace siteplane::source {

inline constexpr const char* kInvalidManifestReason = "InvalidManifest";

struct ManifestSourceOptions {
  std::filesystem::path directory;
  std::chrono::milliseconds debounce{200};
  std::chrono::milliseconds rescanInterval{30000};
};

// What one scan did, for logs and tests.
struct SyncReport {
  size_t files = 0;
  size_t invalidFiles = 0;
  size_t created = 0;
  size_t updated = 0;
  size_t deleted = 0;
  size_t unchanged = 0;
  size_t failedWrites = 0;
};

class ManifestSource final : public Source {
 public:
  // Checks that the directory exists. `store` must outlive the source.
  static Result<std::unique_ptr<ManifestSource>> create(store::Store& store,
                                                        ManifestSourceOptions options);
  ~ManifestSource() override;  // stops
  ManifestSource(const ManifestSource&) = delete;
  ManifestSource& operator=(const ManifestSource&) = delete;

  // Scans once on the calling thread (so the store holds the directory's objects when it returns),
  // then starts the watching thread.
  Status start() override;
  // Stops watching and joins the thread; idempotent.
  void stop() override;

  // Asks the watching thread for a scan now, as if the directory had changed (serve's SIGHUP:
  // an operator who edited files the watch could not see, e.g. on a network filesystem). Safe
  // from any thread, and from a signal handler's thread; a no-op before start() or after stop().
  void rescan() override;

  // One scan on the calling thread. Precondition: start() not called (tests), or called from the
  // watching thread itself.
  SyncReport syncNow();

  const std::filesystem::path& directory() const { return options_.directory; }

 private:
  struct FileState {
    FileStamp signature;  // all zero when the file could not be stat()ed
    bool ok = false;
    // The objects of the last version that loaded without errors, with the ownership annotation.
    std::vector<nlohmann::json> lastGood;
    bool hasLastGood = false;
    std::string errorText;     // the current errors, "" when ok
    std::string reportedText;  // what the Event/log last said, to report each change once
  };

  // A directory of the last walk, with the identity of what its path pointed to then.
  struct WatchedDirectory {
    std::filesystem::path path;
    dev_t device = 0;
    ino_t inode = 0;
  };

  ManifestSource(store::Store& store, ManifestSourceOptions options);

  // The walk: manifest files (paths relative to the directory, sorted), the directories, and the
  // entries that cannot be manifests although they look like one (a FIFO, socket or device with a
  // manifest name, a symlink loop or a dangling symlink), each with why: they are reported like
  // invalid files, and never opened.
  void walk(std::vector<std::string>& files, std::vector<WatchedDirectory>& directories,
            std::map<std::string, std::string>& unusable) const;
  // The walk, then each new or changed file loaded; files_ then holds what the directory does.
  void scanFiles();
  std::map<ObjectKey, store::ObjectPtr> storedObjects() const;
  void applyWrites(std::vector<PlannedWrite> writes, SyncReport& report);
  void loadFile(const std::string& relative, FileState& state);
  void reportErrors(const std::string& relative, FileState& state, const std::string& errorText,
                    const std::string& involvedKind, const std::string& involvedName);
  void clearErrors(const std::string& relative, FileState& state);
  std::string eventName(const std::string& relative) const;

  // The watching thread's side: debounced scans on directory events and the periodic rescan.
  void scheduleScan();
  static void onScanTimer(uv_timer_t* timer) noexcept;
  void scan() noexcept;
  void updateWatches();
  void closeLoopHandles();

  store::Store& store_;
  const ManifestSourceOptions options_;
  events::EventRecorder events_;               // the InvalidManifest Events, one per broken file
  std::map<std::string, FileState> files_;     // by relative path; guarded by syncMutex_
  std::vector<WatchedDirectory> directories_;  // of the last scan; guarded by syncMutex_
  std::mutex syncMutex_;                       // one scan at a time

  std::unique_ptr<event_loop::EventLoopThread> thread_;
  // Touched on the watching thread only (and by start() before it runs).
  std::unique_ptr<event_loop::DirectoryWatches> watches_;
  event_loop::UvHandle<uv_timer_t> debounce_;
  event_loop::UvHandle<uv_timer_t> rescanTimer_;
  uint64_t firstPendingMs_ = 0;  // when the oldest event not yet scanned arrived, 0 when none
};

}  // namespace siteplane::source
