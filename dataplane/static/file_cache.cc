#include "dataplane/static/file_cache.h"

#include <sys/stat.h>

#include <cstring>

#include "common/logging.h"
#include "dataplane/static/content_type.h"
#include "dataplane/static/path_resolver.h"

namespace siteplane::staticfiles {
namespace {

void buildKey(std::string& key, const std::filesystem::path& root, std::string_view path) {
  key.clear();
  key.append(root.native());
  key.push_back('\0');  // cannot occur in a path, so (root, path) pairs never collide
  key.append(path);
}

}  // namespace

FileCache::FileCache(FileCacheOptions options, Clock clock)
    : options_(std::move(options)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      log_(logger("dataplane.static")) {}

FileCache::Lookup FileCache::find(const std::filesystem::path& root, std::string_view path) {
  TimePoint now = clock_();
  if (options_.maxEntries > 0) {
    buildKey(scratchKey_, root, path);
    auto it = index_.find(std::string_view(scratchKey_));
    if (it != index_.end()) {
      EntryList::iterator entry = it->second;
      if (stillValid(*entry, now)) {
        ++stats_.hits;
        entry->usedAt = now;
        lru_.splice(lru_.begin(), lru_, entry);  // iterators stay valid across splice
        return Lookup{0, "ok", entry->file};
      }
      ++stats_.invalidations;
      remove(entry);
    }
    dropIdle(now);
  }
  return resolveAndInsert(root, path, now);
}

void FileCache::sweep() { dropIdle(clock_()); }

void FileCache::dropIdle(TimePoint now) {
  // The list is ordered by last use, so the idle entries are all at its back.
  while (!lru_.empty() && now - lru_.back().usedAt >= options_.evictUnusedAfter) {
    ++stats_.expirations;
    remove(std::prev(lru_.end()));
  }
}

void FileCache::remove(EntryList::iterator entry) {
  if (entry->file->inMemory()) {
    cachedBytes_ -= entry->file->size();
  } else {
    --openDescriptors_;
  }
  index_.erase(std::string_view(entry->key));
  lru_.erase(entry);
}

void FileCache::evictForRoom() {
  while (!lru_.empty() &&
         (index_.size() > options_.maxEntries || cachedBytes_ > options_.maxCachedBytes)) {
    ++stats_.evictions;
    remove(std::prev(lru_.end()));
  }
  // Too many descriptors: evict the least recently used streamed entries only, so that small
  // in-memory files (which cost none) are not thrown out for them.
  auto it = lru_.end();
  while (openDescriptors_ > options_.maxOpenDescriptors && it != lru_.begin()) {
    --it;
    if (it->file->inMemory()) continue;
    ++stats_.evictions;
    auto victim = it;
    ++it;  // stay valid: continue from the element after the victim
    remove(victim);
  }
}

bool FileCache::stillValid(Entry& entry, TimePoint now) {
  if (now - entry.checkedAt < options_.revalidateAfter) return true;
  ++stats_.revalidations;
  struct stat st {};
  // stat() follows symlinks, which is fine here: the result is only compared with the identity of
  // the file opened safely before. Anything else (a symlink retargeted outside the root included)
  // differs and sends the path through resolveBeneath again.
  if (::stat(entry.statPath.c_str(), &st) != 0 || !entry.file->matches(st)) return false;
  entry.checkedAt = now;
  return true;
}

FileCache::Lookup FileCache::resolveAndInsert(const std::filesystem::path& root,
                                              std::string_view path, TimePoint now) {
  ++stats_.misses;
  Resolution resolution = resolveBeneath(root, path, options_.indexFile);
  if (resolution.status != 0) {
    if (resolution.status == 500) {
      // Descriptor exhaustion or I/O errors: the operator must see them, the client only a 500.
      log_->warn("lookup_failed root={} path={} error=\"{}\"", root.native(), path,
                 std::strerror(resolution.error));
    }
    return Lookup{resolution.status, resolution.reason, nullptr};
  }

  auto file = OpenFile::create(std::move(resolution.fd), contentTypeFor(resolution.typeName),
                               options_.maxInMemoryBytes);
  if (!file) {
    log_->warn("open_failed root={} path={} error=\"{}\"", root.native(), path, file.message());
    return Lookup{500, "file could not be read", nullptr};
  }
  if (options_.maxEntries == 0) return Lookup{0, "ok", std::move(file).value()};

  Entry entry;
  buildKey(entry.key, root, path);
  entry.statPath = root.native();
  if (!entry.statPath.empty() && entry.statPath.back() == '/') entry.statPath.pop_back();
  entry.statPath.append(path);
  if (!path.empty() && path.back() == '/') entry.statPath.append(options_.indexFile);
  entry.file = file.value();
  entry.checkedAt = now;
  entry.usedAt = now;
  if (entry.file->inMemory()) {
    cachedBytes_ += entry.file->size();
  } else {
    ++openDescriptors_;
  }
  lru_.push_front(std::move(entry));
  // The key string lives in the list node, which never moves, so the view stays valid.
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  evictForRoom();
  return Lookup{0, "ok", std::move(file).value()};
}

void FileCache::clear() {
  index_.clear();
  lru_.clear();
  cachedBytes_ = 0;
  openDescriptors_ = 0;
}

}  // namespace siteplane::staticfiles
