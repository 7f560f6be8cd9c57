#include "common/event_loop/directory_watches.h"

#include <sys/stat.h>

#include <exception>

#include "common/logging.h"

namespace siteplane::event_loop {

bool DirectoryWatches::watch(const std::string& directory) {
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    unwatch(directory);
    return false;
  }
  return watch(directory, {info.st_dev, info.st_ino});
}

bool DirectoryWatches::watch(const std::string& directory, DirectoryIdentity identity) {
  auto found = watches_.find(directory);
  if (found != watches_.end()) {
    if (found->second->identity == identity) return true;
    watches_.erase(found);  // armed on a directory the path no longer names
  }
  auto watch = std::make_unique<Watch>();
  watch->owner = this;
  watch->directory = directory;
  watch->identity = identity;
  auto handle = UvHandle<uv_fs_event_t>::create(uv_fs_event_init, loop_, watch.get());
  int rc =
      handle ? uv_fs_event_start(handle->get(), &DirectoryWatches::onFsEvent, directory.c_str(), 0)
             : UV_ENOMEM;
  if (rc < 0) {
    // Out of inotify watches, or no permission: the caller's periodic look still covers it.
    logger(logName_)->warn("watch_failed directory={} error=\"{}\"", directory, uv_strerror(rc));
    return false;
  }
  watch->handle = std::move(handle).value();
  watches_.emplace(directory, std::move(watch));
  return true;
}

void DirectoryWatches::unwatch(const std::string& directory) { watches_.erase(directory); }

void DirectoryWatches::watchExactly(const std::map<std::string, DirectoryIdentity>& directories) {
  std::erase_if(watches_, [&](const auto& entry) { return !directories.count(entry.first); });
  for (const auto& [directory, identity] : directories) watch(directory, identity);
}

void DirectoryWatches::clear() { watches_.clear(); }

void DirectoryWatches::onFsEvent(uv_fs_event_t* handle, const char* filename, int,
                                 int status) noexcept {
  auto* watch = static_cast<Watch*>(handle->data);
  DirectoryWatches& self = *watch->owner;
  if (status < 0) {
    logger(self.logName_)
        ->warn("watch_error directory={} error=\"{}\"", watch->directory, uv_strerror(status));
  }
  try {
    self.onEvent_(watch->directory, filename ? filename : "", status);
  } catch (const std::exception& error) {
    logger(self.logName_)
        ->error("watch_callback_failed directory={} error=\"{}\"", watch->directory, error.what());
  }
}

}  // namespace siteplane::event_loop
