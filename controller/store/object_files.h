#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/object_key.h"
#include "common/status.h"

namespace siteplane::store {

// The store's objects on disk: <state>/objects/<Kind>/<namespace>/<name>.json, one file per object,
// plus <state>/objects/resource-version, the highest resourceVersion the store may have used.
//
// Why one file per object rather than a write-ahead log: a write replaces one small file with
// write-to-temp, fsync, rename, fsync-directory, so at every instant each object's file is either
// the old or the new complete version, and an acknowledged write (rename and directory fsync
// done) survives kill -9 and power loss. There is no log to compact, load is "read every file",
// and damage stays local: a corrupt file costs one object, which is reported and skipped, where a
// torn record in a log would put everything after it in doubt. The price is two fsyncs per single
// write, which a manifest change or a status update does not notice. Bulk loads (thousands of
// objects on a first start) go through commit() as one batch: all temporary files, one syncfs,
// all renames, one syncfs — so batching, not a log, is what keeps them fast.
//
// The resourceVersion counter must never go backwards or repeat across restarts, even when the
// newest objects were deleted or their files are found corrupt. So versions are reserved in
// blocks: before using a version beyond the reserved ceiling, the next ceiling is written
// durably to the counter file (one extra fsync per kVersionBlock writes). After a restart the
// counter resumes above the ceiling; versions reserved but unused are simply skipped, which
// clients never notice since resourceVersions are opaque to them.
//
// Not thread-safe: the Store serializes every call.
class ObjectFiles {
 public:
  // How many resourceVersions one durable counter write reserves.
  static constexpr uint64_t kVersionBlock = 1000;

  struct Loaded {
    std::vector<nlohmann::json> objects;
    // The highest resourceVersion that may have been used: the reserved ceiling, or the largest
    // version found in an object file if that is higher.
    uint64_t resourceVersion = 0;
    size_t skipped = 0;  // files that were corrupt, partial or misplaced (each logged)
  };

  // Creates <stateDir>/objects if needed and takes the exclusive lock <stateDir>/objects/lock
  // (flock), held until destruction: two processes writing one state directory would hand out
  // the same resourceVersions. Fails when the directory cannot be created or another process
  // (or another ObjectFiles in this one) holds the lock. The kernel drops the lock when its
  // holder dies, so a kill -9 never leaves the directory locked.
  static Result<ObjectFiles> create(const std::filesystem::path& stateDir);

  ~ObjectFiles();
  ObjectFiles(ObjectFiles&& other) noexcept;
  ObjectFiles& operator=(ObjectFiles&& other) = delete;
  ObjectFiles(const ObjectFiles&) = delete;
  ObjectFiles& operator=(const ObjectFiles&) = delete;

  // Reads every object file. Never fails on a bad file: it is logged with its path and skipped.
  // Leftover temporary files (a write interrupted before its rename, never acknowledged) are
  // removed.
  Result<Loaded> load();

  // One object write (the file's new content) or deletion, with its resourceVersion.
  struct Change {
    ObjectKey key;
    bool deleted = false;
    const std::string* content = nullptr;  // the serialized object, unless deleted; borrowed
    uint64_t version = 0;
  };

  // Makes `changes` durable, applied in order; versions only grow across calls. `applied` gets
  // how many leading changes reached the disk (renamed or unlinked). On success all of them are
  // durable. On error the first `applied` are on disk but maybe not durable, and the rest are
  // not on disk at all.
  Status commit(const std::vector<Change>& changes, size_t& applied);

  const std::filesystem::path& directory() const { return root_; }

 private:
  ObjectFiles(std::filesystem::path root, int lockFd) : root_(std::move(root)), lockFd_(lockFd) {}

  Result<Loaded> loadEntries();
  // The resource-version file: the reserved ceiling.
  void loadCounter(const std::filesystem::path& path, Loaded& loaded);
  // <root>/<kind>: every namespace directory and its object files.
  void loadKind(const std::filesystem::path& kindPath, const std::string& kind, Loaded& loaded);
  std::filesystem::path pathOf(const ObjectKey& key) const;
  // Creates <root>/<kind>/<namespace> (fsyncing each parent it adds an entry to).
  Status ensureDirectory(const ObjectKey& key);
  Status writeFileDurably(const std::filesystem::path& path, const std::string& content);
  Status writeTemp(const std::filesystem::path& temp, const std::string& content, bool sync);
  // syncfs() on the state directory's filesystem.
  Status syncFilesystem();
  // Makes sure `version` is at or below the durable ceiling, raising it by a block if not.
  Status reserve(uint64_t version);

  std::filesystem::path root_;
  int lockFd_ = -1;  // holds the flock on <root>/lock
  std::set<std::filesystem::path> knownDirectories_;
  uint64_t reservedThrough_ = 0;  // the ceiling in the counter file
};

}  // namespace siteplane::store
