#pragma once

// Decoding, validation and encoding of siteplane objects from/to their JSON form. The manifest
// reader (YAML files) and the API server (JSON bodies) both come through here, so an object is
// checked by the same rules whichever way it arrives.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/diagnostic.h"
#include "controller/api/object.h"

namespace siteplane::api {

struct DecodeOptions {
  // The file the document came from: errors are prefixed "file:line:column: ". Empty for API input.
  std::string file;
  // Positions of the document's nodes (from the manifest reader); null when unknown.
  const PositionMap* positions = nullptr;
  // Relative spec.root and spec.source.* paths resolve against this directory (the manifest's);
  // empty leaves them as written.
  std::filesystem::path baseDirectory;
};

struct DecodeResult {
  std::optional<Object> object;         // set exactly when there are no errors
  std::vector<FieldError> errors;       // every problem found, in document order when known
  std::vector<Diagnostic> diagnostics;  // the same errors in context, ready to print
  bool ok() const { return errors.empty(); }
};

// Decodes one document strictly: apiVersion and kind dispatch, unknown fields and wrong types are
// errors, defaults are applied and every validation rule is checked. All errors are collected.
DecodeResult decodeObject(const nlohmann::json& document, const DecodeOptions& options = {});

// The JSON form with every default spelled out. Round-trip stable:
// decodeObject(encodeObject(x)).object == x.
nlohmann::json encodeObject(const Object& object);

// Every validation error of an object built in code (e.g. by the controller): the rules
// decodeObject applies, as {path, message}.
std::vector<FieldError> validate(const Object& object);

}  // namespace siteplane::api
