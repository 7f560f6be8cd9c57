#pragma once

// The manifest sync as a plan: what the files declare against what the store holds, in, and the
// writes that make the store match plus the conflicts between files, out. No I/O, so every rule
// of ownership is tested without a directory or a store:
//   - every object a file declares is created, or updated where its spec, labels or annotations
//     differ from what is stored (a rescan of unchanged files writes nothing);
//   - an object two files declare belongs to the file that already owns it (its annotation),
//     else to the first in path order; every other declaration is a conflict for its file;
//   - a file that does not load declares its last good objects (if it ever loaded), and no
//     object annotated with it is pruned until it loads again;
//   - an object with the manifest-file annotation that no file declares is pruned; an object
//     without it was created through the API and is left alone.

#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/store/store.h"

namespace siteplane::source {

// What one manifest file offers the plan.
struct DeclaringFile {
  bool ok = false;           // its current content loaded without errors
  bool hasLastGood = false;  // some version of it has loaded
  // The objects of the last version that loaded, each annotated with the file; null for none.
  const std::vector<nlohmann::json>* objects = nullptr;
};

struct PlannedWrite {
  enum class Action { kCreate, kUpdate, kPrune };
  Action action = Action::kCreate;
  ObjectKey key;
  std::string detail;  // the declaring file (create) or the former owner (prune), for the log
  store::WriteOp op;
};

struct SyncPlan {
  std::vector<PlannedWrite> writes;
  std::map<std::string, std::string> conflicts;  // file -> error lines, "path: ...\n" each
  size_t invalidFiles = 0;
  size_t unchanged = 0;  // declared objects already stored as declared
};

// `files` by path relative to `directory` (which only words the conflict messages); `stored`
// every object of the manifest kinds in the store.
SyncPlan planSync(const std::map<std::string, DeclaringFile>& files,
                  const std::map<ObjectKey, store::ObjectPtr>& stored,
                  const std::filesystem::path& directory);

// The store key of an object as a file declares it.
ObjectKey declaredKey(const nlohmann::json& object);

}  // namespace siteplane::source
