#include "cli/manifest_input.h"

#include <filesystem>
#include <iostream>
#include <iterator>

#include "controller/api/object.h"
#include "controller/api/object_codec.h"
#include "controller/manifest/manifest_loader.h"

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The encoder spells out server-set metadata and status; an apply must not claim them.
json applyBody(const api::Object& object) {
  json body = api::encodeObject(object);
  body.erase("status");
  if (body.contains("metadata") && body["metadata"].is_object()) {
    json& metadata = body["metadata"];
    for (const char* field : {"generation", "resourceVersion", "uid", "creationTimestamp"}) {
      metadata.erase(field);
    }
    for (const char* field : {"labels", "annotations"}) {
      if (metadata.contains(field) && metadata[field].is_object() && metadata[field].empty()) {
        metadata.erase(field);
      }
    }
  }
  return body;
}

}  // namespace

std::optional<std::vector<ManifestObject>> readManifestObjects(
    const std::vector<std::string>& inputs, const std::string& defaultNamespace) {
  std::vector<manifest::FileLoadResult> files;
  std::vector<api::Diagnostic> errors;
  std::vector<fs::path> paths;
  for (const auto& input : inputs) {
    if (input == "-") {
      std::string text(std::istreambuf_iterator<char>(std::cin), {});
      files.push_back(manifest::loadManifestText(text, "<stdin>", fs::current_path()));
    } else {
      paths.emplace_back(input);
    }
  }
  if (!paths.empty()) {
    auto loaded = manifest::loadManifests(paths);
    errors = loaded.errors;
    if (loaded.ok() && loaded.files.empty()) {
      std::cerr << "error: no manifest files (*.yaml, *.yml) found\n";
      return std::nullopt;
    }
    for (auto& file : loaded.files) files.push_back(std::move(file));
  }
  for (const auto& file : files) {
    if (file.file == "<stdin>") errors.insert(errors.end(), file.errors.begin(), file.errors.end());
  }
  if (!errors.empty()) {
    for (const auto& error : errors) std::cerr << "error: " << error.toString() << "\n";
    return std::nullopt;
  }
  std::vector<ManifestObject> objects;
  for (const auto& file : files) {
    for (const auto& loaded : file.objects) {
      const auto& meta = api::metadataOf(loaded.object);
      auto type = resourceTypeOfKind(api::kindOf(loaded.object));
      if (!type) {
        std::cerr << "error: " << loaded.file << ": kind " << api::kindOf(loaded.object)
                  << " is not served by the API\n";
        return std::nullopt;
      }
      ManifestObject object{*type, meta.namespaceName, meta.name, applyBody(loaded.object),
                            loaded.file};
      bool namespaceGiven = loaded.positions && loaded.positions->count("/metadata/namespace") != 0;
      if (!namespaceGiven && !defaultNamespace.empty()) {
        object.nameSpace = defaultNamespace;
        object.body["metadata"]["namespace"] = defaultNamespace;
      }
      objects.push_back(std::move(object));
    }
  }
  if (objects.empty()) {
    std::cerr << "error: the input declares no objects\n";
    return std::nullopt;
  }
  return objects;
}

}  // namespace siteplane::cli
