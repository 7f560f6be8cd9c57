#include "controller/source/file_watcher.h"

#include <fmt/format.h>

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

FileWatcher::FileWatcher(FileWatcherOptions options) : options_(std::move(options)) {}

FileWatcher::~FileWatcher() { stop(); }

Result<std::unique_ptr<FileWatcher>> FileWatcher::create(FileWatcherOptions options) {
  std::unique_ptr<FileWatcher> watcher(new FileWatcher(std::move(options)));
  auto thread = event_loop::EventLoopThread::create("file-watcher");
  if (!thread) return thread.status();
  watcher->thread_ = std::move(thread).value();
  FileWatcher* self = watcher.get();
  watcher->watches_ = std::make_unique<event_loop::DirectoryWatches>(
      watcher->thread_->loop(), "controller.source",
      [self](const std::string& directory, std::string_view name, int status) {
        self->onDirectoryEvent(directory, name, status);
      });
  if (Status started = watcher->thread_->start(); !started) return started;
  return watcher;
}

void FileWatcher::watch(const std::string& owner, std::vector<fs::path> files) {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  const bool wake = pending_.empty();
  pending_[owner] = std::move(files);
  ++requested_;
  // One task applies every registration made before it runs: a burst costs one wake-up.
  if (wake) thread_->post([this] { applyPending(); });
}

void FileWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (thread_) thread_->stop([this] { watches_->clear(); });
}

bool FileWatcher::applied() const {
  std::lock_guard lock(mutex_);
  return applied_ == requested_;
}

size_t FileWatcher::watchedDirectories() const {
  std::lock_guard lock(mutex_);
  return watchedCount_;
}

void FileWatcher::applyPending() {
  std::unordered_map<std::string, std::vector<fs::path>> pending;
  uint64_t taken = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // stop() closes the watches; nothing may arm a new one
    pending.swap(pending_);
    taken = requested_;
  }
  try {
    for (const auto& [owner, files] : pending) apply(owner, files);
  } catch (const std::exception& error) {
    // Only allocation can throw here; the caller's periodic look still covers the files.
    logger("controller.source")->error("file_watch_failed error=\"{}\"", error.what());
  }
  std::lock_guard lock(mutex_);
  watchedCount_ = watches_->size();
  applied_ = taken;
}

void FileWatcher::apply(const std::string& owner, const std::vector<fs::path>& files) {
  auto wanted = directoriesOf(files);
  std::set<std::string>& current = ownerDirectories_[owner];
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
  if (current.empty()) ownerDirectories_.erase(owner);
}

// Registers `owner`'s `names` in `directory` and watches it (a directory replaced since it was
// watched gets a fresh watch). False when the directory cannot be watched now: its owners fall
// back to their periodic look, and register again then.
bool FileWatcher::attach(const std::string& owner, const std::string& directory,
                         const std::set<std::string>& names) {
  if (!watches_->watch(directory)) {
    owners_.erase(directory);
    return false;
  }
  owners_[directory][owner] = names;
  return true;
}

void FileWatcher::detach(const std::string& owner, const std::string& directory) {
  auto found = owners_.find(directory);
  if (found == owners_.end()) return;
  found->second.erase(owner);
  if (!found->second.empty()) return;
  owners_.erase(found);
  watches_->unwatch(directory);
}

void FileWatcher::onDirectoryEvent(const std::string& directory, std::string_view name,
                                   int status) {
  auto found = owners_.find(directory);
  if (found == owners_.end()) return;
  // Unknown name (an error, a queue overflow) or a Kubernetes AtomicWriter entry: any of the
  // directory's files may have changed.
  const bool everyone = status < 0 || name.empty() || name.rfind("..", 0) == 0;
  std::vector<std::string> changed;
  for (const auto& [owner, names] : found->second)
    if (everyone || names.count(std::string(name))) changed.push_back(owner);
  for (const auto& owner : changed) {
    try {
      options_.onChange(owner);
    } catch (const std::exception& error) {
      logger("controller.source")
          ->error("file_watch_callback_failed owner={} error=\"{}\"", owner, error.what());
    }
  }
}

}  // namespace siteplane::source
