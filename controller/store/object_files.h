#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "controller/store/object_key.h"

namespace siteplane::store {

// The store's objects on disk: <state>/objects/<Kind>/<namespace>/<name>.json, one file per object,
// plus <state>/objects/resource-version holding the resourceVersion of the last deletion.
//
// Why one file per object rather than a write-ahead log: a write replaces one small file with
// write-to-temp, fsync, rename, fsync-directory, so at every instant each object's file is either
// the old or the new complete version, and an acknowledged write (rename and directory fsync
// done) survives kill -9 and power loss. There is no log to compact, load is "read every file",
// and damage stays local: a corrupt file costs one object, which is reported and skipped, where a
// torn record in a log would put everything after it in doubt. The price is two fsyncs per write,
// which a manifest change (a handful of objects) does not notice; a log would win only for bulk
// loads, and those happen once.
//
// The resourceVersion counter is recovered as the largest resourceVersion found in any object
// file; a deletion leaves no file behind, so before unlinking it persists its resourceVersion in
// the counter file. Together they make the counter never go backwards across a restart.
//
// Not thread-safe: the Store serializes every call.
class ObjectFiles {
 public:
  struct Loaded {
    std::vector<nlohmann::json> objects;
    uint64_t resourceVersion = 0;  // the largest resourceVersion seen (objects and counter file)
    size_t skipped = 0;            // files that were corrupt, partial or misplaced (each logged)
  };

  // Creates <stateDir>/objects if needed. Fails when the directory cannot be created.
  static Result<ObjectFiles> create(const std::filesystem::path& stateDir);

  // Reads every object file. Never fails on a bad file: it is logged with its path and skipped.
  // Leftover temporary files (a write interrupted before its rename, never acknowledged) are
  // removed.
  Result<Loaded> load();

  // Durably replaces the object's file with `object`.
  Status write(const ObjectKey& key, const nlohmann::json& object);
  // Durably records `resourceVersion` as the deletion's version, then removes the object's file.
  Status remove(const ObjectKey& key, uint64_t resourceVersion);

  const std::filesystem::path& directory() const { return root_; }

 private:
  explicit ObjectFiles(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path pathOf(const ObjectKey& key) const;
  // Creates <root>/<kind>/<namespace> (fsyncing each parent it adds an entry to).
  Status ensureDirectory(const ObjectKey& key);
  Status writeFileDurably(const std::filesystem::path& path, const std::string& content);

  std::filesystem::path root_;
  std::set<std::filesystem::path> knownDirectories_;
};

}  // namespace siteplane::store
