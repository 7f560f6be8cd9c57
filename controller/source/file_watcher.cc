#include "controller/source/file_watcher.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <uv.h>

#include <exception>
#include <map>

#include "common/logging.h"

namespace siteplane::source {
namespace {

namespace fs = std::filesystem;

// Directory -> names of the owner's files in it: where each file is, and for a symlinked file
// also where it resolves to.
std::map<std::string, std::set<std::string>> directoriesOf(const std::vector<fs::path>& files) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& file : files) {
    fs::path path = file.lexically_normal();
    if (!path.has_filename()) continue;
    out[path.parent_path().string()].insert(path.filename().string());
    std::error_code ec;
    fs::path resolved = fs::weakly_canonical(path, ec);
    if (!ec && resolved != path && resolved.has_filename())
      out[resolved.parent_path().string()].insert(resolved.filename().string());
  }
  return out;
}

}  // namespace

// The watching thread's libuv state. Every handle is closed before the loop is closed; callbacks
// find their state through `data`. Touched only on the watching thread, except `wake`, which
// other threads signal.
struct FileWatcher::Loop {
  struct DirectoryWatch {
    uv_fs_event_t handle;
    Loop* loop = nullptr;
    std::string path;
    dev_t device = 0;
    ino_t inode = 0;
    std::map<std::string, std::set<std::string>> owners;  // owner -> its file names here
  };

  uv_loop_t loop;
  uv_async_t wake;
  FileWatcher* watcher = nullptr;
  // Watches by directory path; each is heap-allocated and freed in its close callback.
  std::map<std::string, DirectoryWatch*> directories;
  std::unordered_map<std::string, std::set<std::string>> ownerDirectories;

  static void onWake(uv_async_t* async) noexcept {
    Loop& self = *static_cast<Loop*>(async->data);
    std::unordered_map<std::string, std::vector<fs::path>> pending;
    bool stopping = false;
    uint64_t taken = 0;
    {
      std::lock_guard lock(self.watcher->mutex_);
      pending.swap(self.watcher->pending_);
      stopping = self.watcher->stopped_;
      taken = self.watcher->requested_;
    }
    if (stopping) {
      for (auto& [path, watch] : self.directories) closeWatch(watch);
      self.directories.clear();
      uv_close(reinterpret_cast<uv_handle_t*>(&self.wake), nullptr);
      return;
    }
    try {
      for (const auto& [owner, files] : pending) self.apply(owner, files);
    } catch (const std::exception& error) {
      // Only allocation can throw here; the caller's periodic look still covers the files.
      logger("controller.source")->error("file_watch_failed error=\"{}\"", error.what());
    }
    std::lock_guard lock(self.watcher->mutex_);
    self.watcher->watchedCount_ = self.directories.size();
    self.watcher->applied_ = taken;
  }

  void apply(const std::string& owner, const std::vector<fs::path>& files) {
    auto wanted = directoriesOf(files);
    std::set<std::string>& current = ownerDirectories[owner];
    for (auto it = current.begin(); it != current.end();) {
      if (wanted.count(*it)) {
        ++it;
        continue;
      }
      detach(owner, *it);
      it = current.erase(it);
    }
    for (const auto& [directory, names] : wanted) {
      if (attach(owner, directory, names)) {
        current.insert(directory);
      } else {
        current.erase(directory);
      }
    }
    if (current.empty()) ownerDirectories.erase(owner);
  }

  // Registers `owner`'s `names` in `directory`, watching it if nobody did; a directory replaced
  // since it was watched (another inode at the same path) gets a fresh watch. False when the
  // directory cannot be watched now.
  bool attach(const std::string& owner, const std::string& directory,
              const std::set<std::string>& names) {
    auto found = directories.find(directory);
    struct stat info {};
    if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      // Gone: its watch sees nothing any more. Every owner falls back to its periodic look and
      // registers again then.
      if (found != directories.end()) {
        closeWatch(found->second);
        directories.erase(found);
      }
      return false;
    }
    std::map<std::string, std::set<std::string>> owners;
    if (found != directories.end()) {
      DirectoryWatch* watch = found->second;
      if (watch->device == info.st_dev && watch->inode == info.st_ino) {
        watch->owners[owner] = names;
        return true;
      }
      owners = std::move(watch->owners);
      closeWatch(watch);
      directories.erase(found);
    }
    owners[owner] = names;
    auto* watch = new DirectoryWatch();
    watch->loop = this;
    watch->path = directory;
    watch->device = info.st_dev;
    watch->inode = info.st_ino;
    watch->owners = std::move(owners);
    uv_fs_event_init(&loop, &watch->handle);
    watch->handle.data = watch;
    int rc = uv_fs_event_start(&watch->handle, onFsEvent, directory.c_str(), 0);
    if (rc < 0) {
      // Out of inotify watches, or no permission: the periodic look still covers it.
      logger("controller.source")
          ->warn("file_watch_failed directory={} error=\"{}\"", directory, uv_strerror(rc));
      closeWatch(watch);
      return false;
    }
    directories.emplace(directory, watch);
    return true;
  }

  void detach(const std::string& owner, const std::string& directory) {
    auto found = directories.find(directory);
    if (found == directories.end()) return;
    found->second->owners.erase(owner);
    if (!found->second->owners.empty()) return;
    closeWatch(found->second);
    directories.erase(found);
  }

  static void onFsEvent(uv_fs_event_t* handle, const char* filename, int, int status) noexcept {
    auto* watch = static_cast<DirectoryWatch*>(handle->data);
    if (status < 0) {
      logger("controller.source")
          ->warn("file_watch_error directory={} error=\"{}\"", watch->path, uv_strerror(status));
    }
    std::string name = filename ? filename : "";
    // Unknown name (an error, a queue overflow) or a Kubernetes AtomicWriter entry: any of the
    // directory's files may have changed.
    bool everyone = status < 0 || name.empty() || name.rfind("..", 0) == 0;
    std::vector<std::string> changed;
    for (const auto& [owner, names] : watch->owners)
      if (everyone || names.count(name)) changed.push_back(owner);
    for (const auto& owner : changed) {
      try {
        watch->loop->watcher->options_.onChange(owner);
      } catch (const std::exception& error) {
        logger("controller.source")
            ->error("file_watch_callback_failed owner={} error=\"{}\"", owner, error.what());
      }
    }
  }

  static void closeWatch(DirectoryWatch* watch) {
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle),
             [](uv_handle_t* handle) { delete static_cast<DirectoryWatch*>(handle->data); });
  }
};

FileWatcher::FileWatcher(FileWatcherOptions options) : options_(std::move(options)) {}

FileWatcher::~FileWatcher() { stop(); }

Result<std::unique_ptr<FileWatcher>> FileWatcher::create(FileWatcherOptions options) {
  std::unique_ptr<FileWatcher> watcher(new FileWatcher(std::move(options)));
  watcher->loop_ = std::make_unique<Loop>();
  Loop& loop = *watcher->loop_;
  loop.watcher = watcher.get();
  int rc = uv_loop_init(&loop.loop);
  if (rc < 0) {
    watcher->loop_.reset();
    return Result<std::unique_ptr<FileWatcher>>::error(
        fmt::format("file watcher: uv_loop_init: {}", uv_strerror(rc)));
  }
  uv_async_init(&loop.loop, &loop.wake, Loop::onWake);
  loop.wake.data = &loop;
  watcher->thread_ = std::thread([&loop] {
    uv_run(&loop.loop, UV_RUN_DEFAULT);
    // onWake closed every handle when it saw the stop; the loop has nothing left.
    uv_loop_close(&loop.loop);
  });
  return watcher;
}

void FileWatcher::watch(const std::string& owner, std::vector<fs::path> files) {
  std::lock_guard lock(mutex_);
  if (stopped_ || !loop_) return;
  pending_[owner] = std::move(files);
  ++requested_;
  // Under the lock, so that stop() cannot free the loop in between. uv_async_send coalesces:
  // many registrations before the thread wakes cost one wake-up.
  uv_async_send(&loop_->wake);
}

void FileWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (!loop_) return;
  uv_async_send(&loop_->wake);
  if (thread_.joinable()) thread_.join();
  loop_.reset();
}

bool FileWatcher::applied() const {
  std::lock_guard lock(mutex_);
  return applied_ == requested_;
}

size_t FileWatcher::watchedDirectories() const {
  std::lock_guard lock(mutex_);
  return watchedCount_;
}

}  // namespace siteplane::source
