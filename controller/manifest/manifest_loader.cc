#include "controller/manifest/manifest_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include "controller/api/field_path.h"
#include "controller/api/object_codec.h"

namespace siteplane::manifest {
namespace fs = std::filesystem;
namespace {

bool isManifestName(const fs::path& path) {
  auto extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml";
}

bool isHidden(const fs::path& path) {
  auto name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

api::Diagnostic fileError(const std::string& file, std::string message) {
  return api::Diagnostic{file, {}, "", "", "", std::move(message)};
}

api::Position positionAt(const LoadedObject& object, const char* pointer) {
  if (object.positions) {
    auto it = object.positions->find(pointer);
    if (it != object.positions->end()) return it->second.value;
  }
  return object.position;
}

std::string where(const LoadedObject& object, const char* pointer) {
  api::Position position = positionAt(object, pointer);
  std::string out = object.file;
  if (position.known()) {
    out += ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
  }
  return out;
}

}  // namespace

std::vector<LoadedObject> LoadResult::objects() const {
  std::vector<LoadedObject> out;
  for (const auto& file : files) {
    out.insert(out.end(), file.objects.begin(), file.objects.end());
  }
  return out;
}

std::vector<fs::path> findManifestFiles(const std::vector<fs::path>& paths,
                                        std::vector<api::Diagnostic>& errors) {
  std::vector<fs::path> out;
  for (const auto& path : paths) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      errors.push_back(fileError(path.string(), "no such file or directory"));
      continue;
    }
    if (!fs::is_directory(status)) {
      out.push_back(path);
      continue;
    }
    std::vector<fs::path> found;
    fs::recursive_directory_iterator it(path, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (isHidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && isManifestName(it->path())) found.push_back(it->path());
    }
    if (ec) errors.push_back(fileError(path.string(), "cannot list directory: " + ec.message()));
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

FileLoadResult loadManifestText(std::string_view text, const std::string& label,
                                const fs::path& baseDirectory, const YamlLimits& limits) {
  FileLoadResult result;
  result.file = label;
  YamlParseResult parsed = parseYaml(text, label, limits);
  if (!parsed.ok()) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  for (auto& document : parsed.documents) {
    auto positions = std::make_shared<const api::PositionMap>(std::move(document.positions));
    api::DecodeOptions options;
    options.file = label;
    options.positions = positions.get();
    options.baseDirectory = baseDirectory;
    api::DecodeResult decoded = api::decodeObject(document.value, options);
    if (!decoded.ok()) {
      result.errors.insert(result.errors.end(), decoded.diagnostics.begin(),
                           decoded.diagnostics.end());
      continue;
    }
    result.objects.push_back(
        LoadedObject{std::move(*decoded.object), label, document.index, document.start, positions});
  }
  if (!result.errors.empty()) result.objects.clear();
  return result;
}

std::string fileTypeName(unsigned mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symlink";
  return "an unknown file type";
}

FileLoadResult loadManifestFile(const fs::path& file, const YamlLimits& limits) {
  const std::string label = file.string();
  auto failed = [&](const std::string& why) {
    FileLoadResult result;
    result.file = label;
    result.errors.push_back(fileError(label, why));
    return result;
  };
  // O_NONBLOCK: a FIFO (or a device) put where a manifest was never blocks the reader waiting for
  // a writer; it is refused below, from the descriptor's own type (not a stat of the name, which
  // could be swapped between the two).
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return failed(std::string("cannot read: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return failed(std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return failed("not a regular file (" + fileTypeName(info.st_mode) + ")");
  if (static_cast<uintmax_t>(info.st_size) > limits.maxBytes) {
    return failed("file too large: " + std::to_string(info.st_size) + " bytes, the limit is " +
                  std::to_string(limits.maxBytes));
  }
  // The file may grow while it is read: read to the end, stopping once past the limit.
  std::string text;
  char buffer[16384];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return failed(std::string("cannot read: ") + std::strerror(errno));
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
    if (text.size() > limits.maxBytes) break;
  }
  std::error_code ec;
  fs::path base = fs::absolute(file, ec).parent_path();
  return loadManifestText(text, label, base.lexically_normal(), limits);
}

LoadResult loadManifests(const std::vector<fs::path>& paths, const YamlLimits& limits) {
  LoadResult result;
  for (const auto& file : findManifestFiles(paths, result.errors)) {
    result.files.push_back(loadManifestFile(file, limits));
    const auto& errors = result.files.back().errors;
    result.errors.insert(result.errors.end(), errors.begin(), errors.end());
  }

  std::map<ObjectKey, const LoadedObject*> declared;
  // Site IDs are global, like IIS site IDs: logs and the access log name a site by it.
  std::map<int64_t, const LoadedObject*> siteIds;
  for (auto& file : result.files) {
    std::vector<api::Diagnostic> conflicts;
    for (const auto& object : file.objects) {
      ObjectKey key = api::keyOf(object.object);
      auto [it, inserted] = declared.emplace(key, &object);
      if (!inserted) {
        conflicts.push_back({object.file, positionAt(object, "/metadata/name"), key.kind, key.name,
                             "metadata.name",
                             key.kind + " " + key.namespacedName() + " is already declared at " +
                                 where(*it->second, "/metadata/name")});
        continue;
      }
      const auto* site = std::get_if<api::Site>(&object.object);
      if (site && site->spec.siteId) {
        auto [owner, fresh] = siteIds.emplace(*site->spec.siteId, &object);
        if (!fresh) {
          conflicts.push_back({object.file, positionAt(object, "/spec/siteId"), key.kind, key.name,
                               "spec.siteId",
                               std::to_string(*site->spec.siteId) + " is already used by Site " +
                                   api::keyOf(owner->second->object).namespacedName() + " at " +
                                   where(*owner->second, "/spec/siteId")});
        }
      }
    }
    if (!conflicts.empty()) {
      // The file as a whole is rejected, like any other error in it.
      auto ownedHere = [&](const LoadedObject* owner) {
        return owner >= file.objects.data() && owner < file.objects.data() + file.objects.size();
      };
      std::erase_if(declared, [&](const auto& entry) { return ownedHere(entry.second); });
      std::erase_if(siteIds, [&](const auto& entry) { return ownedHere(entry.second); });
      file.objects.clear();
      file.errors.insert(file.errors.end(), conflicts.begin(), conflicts.end());
      result.errors.insert(result.errors.end(), conflicts.begin(), conflicts.end());
    }
  }
  return result;
}

}  // namespace siteplane::manifest
