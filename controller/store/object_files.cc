#include "controller/store/object_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "common/durable_file.h"
#include "common/logging.h"
#include "controller/store/resource_version.h"

namespace siteplane::store {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCounterFile = "resource-version";
constexpr const char* kLockFile = "lock";
constexpr const char* kObjectSuffix = ".json";
constexpr const char* kTempSuffix = ".tmp";

std::string errnoText(int error) { return std::system_category().message(error); }

fs::path tempOf(const fs::path& path) {
  fs::path temp = path;
  temp += kTempSuffix;
  return temp;
}

// A batch may write one object several times (create, then status): each write needs its own
// temporary file until its rename.
fs::path tempOf(const fs::path& path, uint64_t version) {
  fs::path temp = path;
  temp += ".";
  temp += formatResourceVersion(version);
  temp += kTempSuffix;
  return temp;
}

bool endsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Checks that a loaded object is the one its path says it is; returns what is wrong, or "".
std::string checkObject(const nlohmann::json& object, const ObjectKey& key) {
  if (!object.is_object()) return "not a JSON object";
  auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string() || *kind != key.kind) {
    return "kind does not match the directory " + key.kind;
  }
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "metadata is missing";
  auto ns = metadata->find("namespace");
  if (ns == metadata->end() || !ns->is_string() || *ns != key.ns) {
    return "metadata.namespace does not match the directory " + key.ns;
  }
  auto name = metadata->find("name");
  if (name == metadata->end() || !name->is_string() || *name != key.name) {
    return "metadata.name does not match the file name";
  }
  auto version = metadata->find("resourceVersion");
  if (version == metadata->end() || !version->is_string() ||
      !toResourceVersion(version->get<std::string>())) {
    return "metadata.resourceVersion is missing or not a number";
  }
  // The server-managed fields every stored object has; the store relies on their types.
  auto uid = metadata->find("uid");
  if (uid == metadata->end() || !uid->is_string()) return "metadata.uid is missing";
  auto created = metadata->find("creationTimestamp");
  if (created == metadata->end() || !created->is_string()) {
    return "metadata.creationTimestamp is missing";
  }
  auto generation = metadata->find("generation");
  if (generation == metadata->end() || !generation->is_number_integer() || *generation < 1) {
    return "metadata.generation is missing or not a positive integer";
  }
  return "";
}

void skip(ObjectFiles::Loaded& loaded, const fs::path& path, const std::string& why) {
  logger("controller.store")->error("state_file_skipped path={} error=\"{}\"", path.string(), why);
  ++loaded.skipped;
}

// An interrupted write: it never reached its rename, so it was never acknowledged.
void removeTemp(const fs::path& path) {
  logger("controller.store")->warn("state_temp_file_removed path={}", path.string());
  std::error_code ignored;
  fs::remove(path, ignored);
}

// One entry of the directory <kind>/<ns>: the object of a <name>.json that holds the object its
// path names, else skipped (and logged); a temporary file is removed.
void loadObjectFile(const fs::path& filePath, const std::string& kind, const std::string& ns,
                    ObjectFiles::Loaded& loaded) {
  std::string fileName = filePath.filename().string();
  if (endsWith(fileName, kTempSuffix)) {
    removeTemp(filePath);
    return;
  }
  std::string name = fileName.substr(0, fileName.size() - std::string_view(kObjectSuffix).size());
  if (!endsWith(fileName, kObjectSuffix) || !isDns1123Label(name)) {
    skip(loaded, filePath, "not an object file");
    return;
  }
  auto content = durable::readFile(filePath);
  if (!content) {
    skip(loaded, filePath, content.message());
    return;
  }
  nlohmann::json object = nlohmann::json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    skip(loaded, filePath, "not valid JSON (corrupt or partial file)");
    return;
  }
  std::string problem = checkObject(object, ObjectKey{kind, ns, name});
  if (!problem.empty()) {
    skip(loaded, filePath, problem);
    return;
  }
  uint64_t version =
      *toResourceVersion(object["metadata"]["resourceVersion"].get_ref<const std::string&>());
  loaded.resourceVersion = std::max(loaded.resourceVersion, version);
  loaded.objects.push_back(std::move(object));
}

}  // namespace

Result<ObjectFiles> ObjectFiles::create(const fs::path& stateDir) {
  std::error_code error;
  fs::create_directories(stateDir, error);
  if (error) {
    return Result<ObjectFiles>::error("create state directory " + stateDir.string() + ": " +
                                      error.message());
  }
  fs::path root = stateDir / "objects";
  if (Status made = durable::makeDirectory(root); !made) return made;
  fs::path lockPath = root / kLockFile;
  int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockFd < 0) return Status::error("open " + lockPath.string() + ": " + errnoText(errno));
  if (::flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    ::close(lockFd);
    if (error == EWOULDBLOCK) {
      return Status::error("state directory " + stateDir.string() +
                           " is in use by another siteplane process (lock " + lockPath.string() +
                           ")");
    }
    return Status::error("lock " + lockPath.string() + ": " + errnoText(error));
  }
  return ObjectFiles(root, lockFd);
}

ObjectFiles::~ObjectFiles() {
  if (lockFd_ >= 0) ::close(lockFd_);
}

ObjectFiles::ObjectFiles(ObjectFiles&& other) noexcept
    : root_(std::move(other.root_)),
      lockFd_(std::exchange(other.lockFd_, -1)),
      knownDirectories_(std::move(other.knownDirectories_)),
      reservedThrough_(other.reservedThrough_) {}

fs::path ObjectFiles::pathOf(const ObjectKey& key) const {
  return root_ / key.kind / key.ns / (key.name + kObjectSuffix);
}

Status ObjectFiles::ensureDirectory(const ObjectKey& key) {
  fs::path directory = root_ / key.kind / key.ns;
  if (knownDirectories_.count(directory)) return Status::ok();
  if (Status made = durable::makeDirectory(root_ / key.kind); !made) return made;
  if (Status made = durable::makeDirectory(directory); !made) return made;
  knownDirectories_.insert(directory);
  return Status::ok();
}

Status ObjectFiles::writeTemp(const fs::path& temp, const std::string& content, bool sync) {
  Status written = durable::writeFile(temp, content, {0600, /*exclusive=*/false, sync});
  if (!written) ::unlink(temp.c_str());
  return written;
}

Status ObjectFiles::writeFileDurably(const fs::path& path, const std::string& content) {
  return durable::replaceFile(path, tempOf(path), content);
}

Status ObjectFiles::syncFilesystem() { return durable::syncFileSystem(root_); }

Status ObjectFiles::reserve(uint64_t version) {
  if (version <= reservedThrough_) return Status::ok();
  uint64_t ceiling = version + kVersionBlock - 1;
  if (Status saved = writeFileDurably(root_ / kCounterFile, formatResourceVersion(ceiling) + "\n");
      !saved) {
    return saved;
  }
  reservedThrough_ = ceiling;
  return Status::ok();
}

Status ObjectFiles::commit(const std::vector<Change>& changes, size_t& applied) {
  applied = 0;
  if (changes.empty()) return Status::ok();
  uint64_t highest = 0;
  for (const auto& change : changes) highest = std::max(highest, change.version);
  if (Status reserved = reserve(highest); !reserved) return reserved;
  for (const auto& change : changes) {
    if (change.deleted) continue;
    if (Status made = ensureDirectory(change.key); !made) return made;
  }

  if (changes.size() == 1) {
    // One change: fsync the file, rename, fsync the directory.
    const Change& change = changes.front();
    fs::path path = pathOf(change.key);
    if (!change.deleted) {
      fs::path temp = tempOf(path);
      if (Status written = writeTemp(temp, *change.content, /*sync=*/true); !written) {
        return written;
      }
      if (::rename(temp.c_str(), path.c_str()) != 0) {
        int error = errno;
        ::unlink(temp.c_str());
        return Status::error("rename " + temp.string() + ": " + errnoText(error));
      }
    } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::error("unlink " + path.string() + ": " + errnoText(errno));
    }
    applied = 1;
    return durable::syncDirectory(path.parent_path());
  }

  // Several changes: fsyncing each file would cost a journal commit per object (a 10,000-object
  // first start would take minutes). Instead every temporary file is written, one syncfs makes
  // them all durable, the renames and unlinks follow in resourceVersion order, and a second
  // syncfs makes those durable: two filesystem syncs per batch however large. A crash leaves a
  // prefix of the batch applied (the batch was not acknowledged), never a torn file.
  std::vector<fs::path> temps(changes.size());
  auto discardTemps = [&](size_t from) {
    for (size_t i = from; i < temps.size(); ++i) {
      if (!temps[i].empty()) ::unlink(temps[i].c_str());
    }
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    if (changes[i].deleted) continue;
    fs::path temp = tempOf(pathOf(changes[i].key), changes[i].version);
    if (Status written = writeTemp(temp, *changes[i].content, /*sync=*/false); !written) {
      discardTemps(0);
      return written;
    }
    temps[i] = temp;
  }
  if (Status synced = syncFilesystem(); !synced) {
    discardTemps(0);
    return synced;
  }
  for (size_t i = 0; i < changes.size(); ++i) {
    fs::path path = pathOf(changes[i].key);
    if (!changes[i].deleted) {
      if (::rename(temps[i].c_str(), path.c_str()) != 0) {
        int error = errno;
        discardTemps(i);
        return Status::error("rename " + temps[i].string() + ": " + errnoText(error));
      }
    } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      int error = errno;
      discardTemps(i);
      return Status::error("unlink " + path.string() + ": " + errnoText(error));
    }
    applied = i + 1;
  }
  return syncFilesystem();
}

Result<ObjectFiles::Loaded> ObjectFiles::load() {
  // Directory iteration reports errors by exception (advancing past an entry that vanished or
  // cannot be read); they must not escape, so the walk is one guarded function.
  try {
    return loadEntries();
  } catch (const std::exception& error) {
    return Result<Loaded>::error("read state directory " + root_.string() + ": " + error.what());
  }
}

Result<ObjectFiles::Loaded> ObjectFiles::loadEntries() {
  Loaded loaded;
  std::error_code error;
  for (const auto& kindEntry : fs::directory_iterator(root_, error)) {
    const fs::path& kindPath = kindEntry.path();
    std::string kindName = kindPath.filename().string();
    if (kindName == kCounterFile) {
      loadCounter(kindPath, loaded);
      continue;
    }
    if (kindName == kLockFile) continue;
    if (endsWith(kindName, kTempSuffix)) {
      removeTemp(kindPath);
      continue;
    }
    std::error_code typeError;
    if (!kindEntry.is_directory(typeError) || !isValidKind(kindName)) {
      skip(loaded, kindPath, "not a kind directory");
      continue;
    }
    loadKind(kindPath, kindName, loaded);
  }
  if (error) {
    return Result<Loaded>::error("read state directory " + root_.string() + ": " + error.message());
  }
  return loaded;
}

void ObjectFiles::loadCounter(const fs::path& path, Loaded& loaded) {
  auto content = durable::readFile(path);
  std::string text = content ? *content : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto counter = toResourceVersion(text);
  if (!content) {
    skip(loaded, path, content.message());
  } else if (!counter) {
    skip(loaded, path, "not a resourceVersion");
  } else {
    reservedThrough_ = *counter;
    loaded.resourceVersion = std::max(loaded.resourceVersion, *counter);
  }
}

void ObjectFiles::loadKind(const fs::path& kindPath, const std::string& kind, Loaded& loaded) {
  std::error_code kindError;
  for (const auto& nsEntry : fs::directory_iterator(kindPath, kindError)) {
    const fs::path& nsPath = nsEntry.path();
    std::string nsName = nsPath.filename().string();
    std::error_code typeError;
    if (!nsEntry.is_directory(typeError) || !isDns1123Label(nsName)) {
      skip(loaded, nsPath, "not a namespace directory");
      continue;
    }
    std::error_code nsError;
    for (const auto& fileEntry : fs::directory_iterator(nsPath, nsError))
      loadObjectFile(fileEntry.path(), kind, nsName, loaded);
    if (nsError)
      skip(loaded, nsPath, nsError.message());
    else
      knownDirectories_.insert(nsPath);
  }
  if (kindError) skip(loaded, kindPath, kindError.message());
}

}  // namespace siteplane::store
