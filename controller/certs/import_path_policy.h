#pragma once

// Which files an object may make siteplane read (Certificate spec.source: PEM certificate, key,
// PKCS#12 file and its password file; later a Site's CRL files). The API token holder may write
// objects but must not read what the operator did not allow (DESIGN.md, trust boundaries): an
// import from the state directory would serve another Certificate's key or the API's CA key.
//
// Allowed: the manifest directory, for objects a manifest file declares; every `--import-root`
// directory, for every object. Never: the state directory, even inside an allowed directory.
// Paths are compared canonically (symlinks and ".." resolved), when checked and again at read
// time on the file actually opened. A refusal says only that the path is not allowed: the same
// words whether the file exists or not, so the API cannot be used to probe the filesystem.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace siteplane::certs {

// Where an object came from: which allowed directories apply to it.
enum class ImportOrigin {
  kManifestFile,  // declared by a file of the manifest directory
  kApi,           // created or changed through the API
};

// The annotation the manifest source sets on the objects a file declares (controller/source); the
// API refuses to set it (controller/apiserver), so it tells which directories an object may read.
inline constexpr const char* kManifestFileAnnotation = "siteplane.io/manifest-file";

// The origin of an object with these metadata.annotations.
inline ImportOrigin importOriginOf(const std::map<std::string, std::string>& annotations) {
  return annotations.count(kManifestFileAnnotation) ? ImportOrigin::kManifestFile
                                                    : ImportOrigin::kApi;
}

struct ImportPathPolicyOptions {
  std::filesystem::path manifestsDir;              // allowed for kManifestFile objects
  std::vector<std::filesystem::path> importRoots;  // allowed for every object
  std::vector<std::filesystem::path> deniedDirs;   // never (the state directory)
};

class ImportPathPolicy {
 public:
  // Resolves each directory to its canonical path (one that does not exist yet is kept
  // lexically normalised: it can hold nothing until it exists, and then resolves the same).
  static ImportPathPolicy create(const ImportPathPolicyOptions& options);

  // Ok when `path` (absolute) resolves inside a directory allowed for `origin` and outside every
  // denied one. The error (ErrorCode::kPathNotAllowed) names the path and says it is not allowed,
  // nothing more.
  [[nodiscard]] Status check(const std::filesystem::path& path, ImportOrigin origin) const;

  // Reads a whole regular file of at most `maxBytes` after check(), and checks again the path of
  // the file the kernel actually opened (see the .cc): a symlink swapped in between the check
  // and the open cannot lead outside. Never blocks on a FIFO. A refusal is kPathNotAllowed, as
  // from check(); a file that cannot be read is kUnspecified.
  [[nodiscard]] Result<std::string> read(const std::filesystem::path& path, ImportOrigin origin,
                                         size_t maxBytes = size_t{16} << 20) const;

  // Whether a Site created through the API may serve the directory `canonical`: inside the
  // manifest directory or an import root, outside every denied directory.
  bool servableByApi(const std::filesystem::path& canonical) const;

 private:
  ImportPathPolicy() = default;
  bool allowed(const std::filesystem::path& canonical, ImportOrigin origin) const;
  Status refusal(const std::filesystem::path& path) const;
  // Whether `file` (more than one hard link) is also a file inside a denied directory.
  bool linksIntoDenied(const struct stat& file) const;

  std::filesystem::path manifestsDir_;
  std::vector<std::filesystem::path> importRoots_;
  std::vector<std::filesystem::path> deniedDirs_;
};

}  // namespace siteplane::certs
