#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/api/field_path.h"

namespace siteplane::api {

// A 1-based line and column in a manifest file; 0 means unknown.
struct Position {
  int line = 0;
  int column = 0;
  bool known() const { return line > 0; }
  bool operator==(const Position&) const = default;
  auto operator<=>(const Position&) const = default;
};

// Where a node of a document came from: `value` is the node itself, `key` the mapping key that
// introduced it (equal to `value` for list items and the document root).
struct SourcePosition {
  Position key;
  Position value;
};

// JSON pointer of a node ("" is the document root, "/spec/port") to its place in the file. The
// manifest reader fills it; the decoder uses it to put file:line:column on every error.
using PositionMap = std::unordered_map<std::string, SourcePosition>;

// One validation problem of one object: a field path and what is wrong with it.
struct FieldError {
  FieldPath path;
  std::string message;
  // Points at the mapping key rather than the value (an unknown field is its key's fault).
  bool atKey = false;
  // The field is not in the schema ("unknown field"): the API server drops such fields under
  // fieldValidation=Ignore/Warn and answers them as FieldValueNotSupported, the others as
  // FieldValueInvalid.
  bool unknownField = false;
};

// A FieldError placed in context: which file and where, which object. Renders as
//   manifests/contoso.yaml:14:11: Binding "contoso-https" spec.port: must be between 1 and 65535,
//   got 70000
// and, without a file (API input), as
//   Binding "contoso-https" spec.port: must be between 1 and 65535, got 70000
struct Diagnostic {
  std::string file;
  Position position;
  std::string kind;  // empty when the document has no usable kind
  std::string name;  // empty when the object has no usable name
  std::string path;  // empty for problems of the whole document (YAML syntax, ...)
  std::string message;

  std::string toString() const;
};

// Orders diagnostics of one file by position (unknown positions last), keeping the order of
// equal positions.
void sortByPosition(std::vector<Diagnostic>& diagnostics);

}  // namespace siteplane::api
