#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dataplane/static/open_file.h"

namespace spdlog {
class logger;
}

namespace siteplane::staticfiles {

struct FileCacheOptions {
  // Entries kept; the least recently used one is evicted beyond this. 0 disables caching (every
  // request walks the path and opens the file).
  size_t maxEntries = 4096;
  // A cached entry is trusted for this long, then checked with one stat() of its path before its
  // next use; a change (inode, size, mtime, ctime) or a stat error drops it and the path is
  // resolved again. 0 checks on every use. As nginx's open_file_cache_valid: a file replaced on
  // disk is served at most this long in its old version.
  std::chrono::milliseconds revalidateAfter{1000};
  // Files up to this size are held in memory (no descriptor kept); larger ones are streamed.
  uint64_t maxInMemoryBytes = 64 * 1024;
  // Bound on the bytes of in-memory files held by the cache; least recently used entries are
  // evicted beyond it, so maxEntries small files cannot add up to an unbounded amount of memory.
  uint64_t maxCachedBytes = 32 * 1024 * 1024;
  // Bound on the descriptors of streamed (larger) files held open by the cache; beyond it the
  // least recently used streamed entry is evicted. Keeps the cache from starving accept() of
  // descriptors: every worker has its own cache, and connections need descriptors too.
  size_t maxOpenDescriptors = 256;
  // An entry not used for this long is dropped (its descriptor closed) on the next miss or
  // sweep(), as nginx's open_file_cache inactive=: files of a removed site do not stay open.
  std::chrono::milliseconds evictUnusedAfter{60000};
  // Served for a request naming a directory with a trailing slash.
  std::string indexFile = "index.html";
};

// nginx's open_file_cache idea for one worker: (site root, decoded path) -> the OpenFile that path
// resolved to, so that the hot path of a static request is one hash lookup and, at most once per
// revalidateAfter, one stat(). Only successful lookups are cached: a 404 costs a fresh walk each
// time, which keeps a file that appears visible immediately.
//
// Not thread-safe by design: each worker loop owns one FileCache and touches it only from its
// thread; nothing here takes a lock. Entries are shared_ptr<const OpenFile>, so a response still
// streaming a file keeps its descriptor open after the entry is evicted or replaced.
class FileCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Injectable so tests can step time; defaults to steady_clock::now. A worker may pass its
  // loop's cached time (uv_now) and save a clock_gettime per request.
  using Clock = std::function<TimePoint()>;

  struct Lookup {
    int status = 500;  // 0 found, else as Resolution::status (301, 403, 404, 500)
    std::string_view reason;
    std::shared_ptr<const OpenFile> file;  // when status == 0
  };

  struct Stats {
    uint64_t hits = 0;           // served from the cache (possibly after a stat)
    uint64_t misses = 0;         // resolved from the file system
    uint64_t revalidations = 0;  // stat() calls on cached entries
    uint64_t invalidations = 0;  // entries dropped because the file changed or vanished
    uint64_t evictions = 0;      // entries dropped for room (LRU, count or bytes)
    uint64_t expirations = 0;    // entries dropped after evictUnusedAfter without use
  };

  explicit FileCache(FileCacheOptions options = {}, Clock clock = nullptr);
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // `path` is a decodeRequestPath() result; `root` the site's root directory. On a hit that needs
  // no revalidation this does not allocate.
  Lookup find(const std::filesystem::path& root, std::string_view path);

  // Drops the entries unused for evictUnusedAfter. find() does this on every miss; a worker may
  // also call it from a timer so an idle worker releases descriptors too.
  void sweep();
  // Drops every entry (e.g. when a worker wants to release descriptors).
  void clear();

  size_t size() const { return index_.size(); }
  // Bytes of in-memory file contents currently held.
  uint64_t cachedBytes() const { return cachedBytes_; }
  // Descriptors of streamed files currently held by the cache (responses may hold more).
  size_t openDescriptors() const { return openDescriptors_; }
  const Stats& stats() const { return stats_; }
  const FileCacheOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string key;       // root + '\0' + path: the index below holds views into it
    std::string statPath;  // what to stat() to revalidate: root + path (+ index file)
    std::shared_ptr<const OpenFile> file;
    TimePoint checkedAt;  // last stat() (or the open)
    TimePoint usedAt;     // last find() that returned it
  };
  using EntryList = std::list<Entry>;

  // Whether the entry still describes the file on disk, refreshing checkedAt when it does.
  bool stillValid(Entry& entry, TimePoint now);
  Lookup resolveAndInsert(const std::filesystem::path& root, std::string_view path, TimePoint now);
  void dropIdle(TimePoint now);
  void remove(EntryList::iterator entry);
  void evictForRoom();

  FileCacheOptions options_;
  Clock clock_;
  // Taken at construction so that logging a failure never has to create the logger, which may
  // be exactly when descriptors or memory have run out.
  std::shared_ptr<spdlog::logger> log_;
  EntryList lru_;  // most recently used first
  std::unordered_map<std::string_view, EntryList::iterator> index_;
  std::string scratchKey_;  // reused for lookups so that a hit does not allocate
  uint64_t cachedBytes_ = 0;
  size_t openDescriptors_ = 0;
  Stats stats_;
};

}  // namespace siteplane::staticfiles
