#pragma once

// Reading manifest files into typed objects: the part of "siteplane validate", "serve" and the
// manifest-directory source that is the same for all of them.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "controller/api/diagnostic.h"
#include "controller/api/object.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::manifest {

// One object declared by a manifest file. A file owns the objects it declares.
struct LoadedObject {
  api::Object object;
  std::string file;  // as it appears in errors, e.g. "manifests/contoso.yaml"
  size_t documentIndex = 0;
  api::Position position;  // where the document starts
  // Where each field is, for errors found later (e.g. by reconcilers) about this object.
  std::shared_ptr<const api::PositionMap> positions;
};

// Everything one file declares, or why it declares nothing: a file with any error contributes no
// objects, so that a half-edited file never replaces the last good version of its objects.
struct FileLoadResult {
  std::string file;
  std::vector<LoadedObject> objects;
  std::vector<api::Diagnostic> errors;
  bool ok() const { return errors.empty(); }
};

struct LoadResult {
  std::vector<FileLoadResult> files;    // in the order they were read (sorted paths)
  std::vector<api::Diagnostic> errors;  // every error of every file, plus cross-file conflicts
  bool ok() const { return errors.empty(); }
  // The objects of every file, in file and document order.
  std::vector<LoadedObject> objects() const;
};

// The *.yaml and *.yml files under each path (recursively for directories, skipping names that
// start with '.'), sorted; a path naming a file is taken whatever its extension. Paths that do not
// exist or cannot be listed are reported in `errors`.
std::vector<std::filesystem::path> findManifestFiles(
    const std::vector<std::filesystem::path>& paths, std::vector<api::Diagnostic>& errors);

// Reads, parses and decodes every document of one file. Relative paths in Sites and Certificates
// resolve against the file's directory (made absolute). Only a regular file is read: a FIFO or a
// device is an error ("not a regular file (a FIFO)") and is never waited on.
FileLoadResult loadManifestFile(const std::filesystem::path& file, const YamlLimits& limits = {});

// What a file that is not a regular file is, for errors: "a FIFO", "a socket", "a character
// device", "a block device", "a directory", "a symlink", "an unknown file type". `mode` is a
// stat() st_mode.
std::string fileTypeName(unsigned mode);

// Parses and decodes YAML text that did not come from a file (an API request body, a test):
// `label` names it in errors; relative paths resolve against `baseDirectory` when non-empty.
FileLoadResult loadManifestText(std::string_view text, const std::string& label,
                                const std::filesystem::path& baseDirectory = {},
                                const YamlLimits& limits = {});

// Loads every manifest file under `paths` and checks what no single file can: an object declared
// twice (same kind, namespace and name) and a Site siteId used twice. The later declaration is the
// one reported.
LoadResult loadManifests(const std::vector<std::filesystem::path>& paths,
                         const YamlLimits& limits = {});

}  // namespace siteplane::manifest
